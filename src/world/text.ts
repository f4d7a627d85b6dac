import { PARAMS } from './params.js';
import { Rng } from './rng.js';
import { TOPICS } from './constants.js';

// Post texts are bags of words from three vocabularies: common words, the topic's words and the
// sub-topic's words. Only the text carries the sub-topic, so a model that wants the individual
// taste for sub-topics has to recover them from the words (e.g. by clustering). The vocabularies
// are fixed (independent of the world seed); which post gets which sub-topic depends on the seed.

const COMMON = (
  'the of and to a in is that it for was on with as this but his by are be from at have not one ' +
  'they you all there what an which their has more we when about were so can if out up some would ' +
  'her its also after who them into just very than only time other like new first then people well ' +
  'even could been over because year most much good many any two still way did through day'
).split(' ');

const TOPIC_WORDS: Record<string, string[]> = {
  movie:
    'film movie actor actress scene plot director story cast character watch screen role ending script'.split(
      ' ',
    ),
  covid: 'covid vaccine virus cases pandemic lockdown mask health hospital test dose infection spread'.split(
    ' ',
  ),
  business: 'market company shares profit bank economy sales growth firm investors prices deal trade'.split(
    ' ',
  ),
  sport: 'match team player season coach game win league cup goal championship injury club'.split(' '),
  politics: 'government minister election party vote labour tory parliament policy campaign leader'.split(
    ' ',
  ),
  tech: 'software users mobile phone internet technology digital computer online device network data'.split(
    ' ',
  ),
  entertainment: 'music band album singer award show star festival chart concert tv comedy'.split(' '),
};

const C = ['b', 'c', 'd', 'f', 'g', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'z', 'br', 'st', 'tr'];
const V = ['a', 'e', 'i', 'o', 'u', 'ai', 'ou', 'ea'];

function pseudoWord(rng: Rng, seen: Set<string>): string {
  for (;;) {
    let w = '';
    const syl = 2 + rng.int(2);
    for (let i = 0; i < syl; i++) w += C[rng.int(C.length)]! + V[rng.int(V.length)]!;
    if (rng.next() < 0.5) w += C[rng.int(C.length)]!;
    if (!seen.has(w)) {
      seen.add(w);
      return w;
    }
  }
}

export interface Vocabulary {
  common: string[];
  /** Per topic. */
  topic: string[][];
  /** Per global sub-topic index. */
  subtopic: string[][];
}

let vocab: Vocabulary | undefined;

export function vocabulary(): Vocabulary {
  if (vocab) return vocab;
  const rng = new Rng(7_023, 0x7e47);
  const seen = new Set<string>([...COMMON, ...Object.values(TOPIC_WORDS).flat()]);
  const topic = TOPICS.map((t) => {
    const words = [...TOPIC_WORDS[t]!];
    while (words.length < 40) words.push(pseudoWord(rng, seen));
    return words;
  });
  const subtopic: string[][] = [];
  PARAMS.subtopicsPerTopic.forEach((n) => {
    for (let s = 0; s < n; s++) {
      const words: string[] = [];
      while (words.length < 30) words.push(pseudoWord(rng, seen));
      subtopic.push(words);
    }
  });
  vocab = { common: COMMON, topic, subtopic };
  return vocab;
}

/** A text of exactly `length` characters for a post of this topic and sub-topic. */
export function postText(rng: Rng, topic: number, subtopic: number, length: number): string {
  const v = vocabulary();
  const tw = v.topic[topic]!;
  const sw = v.subtopic[subtopic]!;
  const parts: string[] = [];
  let len = 0;
  let sentence = 0;
  while (len < length) {
    const r = rng.next();
    let w: string;
    if (r < 0.42) {
      const u = rng.next();
      w = v.common[Math.floor(u * u * v.common.length)]!;
    } else if (r < 0.68) w = tw[rng.int(tw.length)]!;
    else w = sw[rng.int(sw.length)]!;
    if (sentence === 0) w = w.charAt(0).toUpperCase() + w.slice(1);
    sentence++;
    if (sentence > 6 && rng.next() < 0.12) {
      w += '.';
      sentence = 0;
    } else if (rng.next() < 0.04) w += ',';
    parts.push(w);
    len += w.length + 1;
  }
  const text = parts.join(' ').slice(0, length);
  return text.endsWith(' ') ? text.slice(0, -1) + '.' : text;
}
