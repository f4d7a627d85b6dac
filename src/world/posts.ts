import { POST_ID_MIN, SCALE_SIZES, TOPICS, type WorldSpec } from './constants.js';
import { PARAMS } from './params.js';
import { Rng, STREAM } from './rng.js';
import { postText } from './text.js';
import { sparseIds } from './users.js';

export interface WorldPost {
  postId: number;
  topic: string;
  text: string;
  /** Hidden: global sub-topic index (only the text reveals it). */
  subtopic: number;
  /** Hidden: post quality (logit). */
  quality: number;
}

export interface PostCodes {
  topic: Uint8Array;
  subtopic: Int16Array;
  /** quality + the sub-topic's main effect (logit). */
  effect: Float32Array;
  /** Relative chance of being shown in a feed; 0 = never shown. */
  viewWeight: Float64Array;
}

// Text lengths: lognormal per topic (covid posts are tweets, news articles are long, movie
// reviews in between), giving the real min 30, median ~994, mean ~1,287 and max 25,392.
const LENGTH_MEDIAN = [930, 175, 2150, 1900, 2500, 2250, 1750];
const LENGTH_SIGMA = [0.72, 0.45, 0.42, 0.48, 0.42, 0.4, 0.48];
export const TEXT_MIN = 30;
export const TEXT_MAX = 25_392;

/** First global sub-topic index of each topic. */
export const SUBTOPIC_OFFSET: number[] = PARAMS.subtopicsPerTopic.reduce<number[]>(
  (acc, n, i) => [...acc, (acc[i] ?? 0) + n],
  [0],
);
export const SUBTOPIC_COUNT = SUBTOPIC_OFFSET[TOPICS.length]!;

// The real post ids come in topic blocks in alphabetical order of topic.
const ID_ORDER = [...TOPICS.keys()].sort((a, b) => TOPICS[a]!.localeCompare(TOPICS[b]!));

export function generatePosts(spec: WorldSpec): { posts: WorldPost[]; codes: PostCodes } {
  const size = SCALE_SIZES[spec.scale];
  const n = size.topicPosts.reduce((a, b) => a + b, 0);
  const ids = sparseIds(new Rng(spec.seed, STREAM.ids, 2), n, POST_ID_MIN, size.postIdMax);
  const rng = new Rng(spec.seed, STREAM.posts);
  const textRng = new Rng(spec.seed, STREAM.text);
  const codes: PostCodes = {
    topic: new Uint8Array(n),
    subtopic: new Int16Array(n),
    effect: new Float32Array(n),
    viewWeight: new Float64Array(n),
  };
  const subMain = Float32Array.from(
    { length: SUBTOPIC_COUNT },
    () => PARAMS.subtopicMain * (2 * rng.next() - 1),
  );
  // Sub-topics have unequal sizes inside their topic.
  const subSize = Float64Array.from({ length: SUBTOPIC_COUNT }, () => rng.gamma(4));
  const lengths = new Int32Array(n);
  let k = 0;
  for (const t of ID_ORDER) {
    const s0 = SUBTOPIC_OFFSET[t]!;
    const sizes = subSize.subarray(s0, SUBTOPIC_OFFSET[t + 1]!);
    for (let j = 0; j < size.topicPosts[t]!; j++, k++) {
      codes.topic[k] = t;
      codes.subtopic[k] = s0 + rng.pick(sizes);
      // Bounded (uniform) quality: the real like shares per post stay within 6-16 %.
      codes.effect[k] = PARAMS.quality * (2 * rng.next() - 1) + subMain[codes.subtopic[k]!]!;
      const len = Math.exp(Math.log(LENGTH_MEDIAN[t]!) + LENGTH_SIGMA[t]! * rng.normal());
      lengths[k] = Math.min(TEXT_MAX, Math.max(TEXT_MIN, Math.round(len)));
    }
  }
  // The extremes are the real ones exactly: the longest post is 25,392 characters.
  let longest = 0;
  for (let i = 1; i < n; i++) if (lengths[i]! > lengths[longest]!) longest = i;
  lengths[longest] = TEXT_MAX;
  let shortest = 0;
  for (let i = 1; i < n; i++) if (lengths[i]! < lengths[shortest]!) shortest = i;
  lengths[shortest] = TEXT_MIN;

  for (let i = 0; i < n; i++) {
    const u = rng.next();
    let acc = 0;
    let w = 1;
    for (const [weight, share] of PARAMS.viewClusters) {
      acc += share;
      w = weight;
      if (u < acc) break;
    }
    codes.viewWeight[i] = w * (1 + PARAMS.viewJitter * rng.normal());
  }
  const order = rng.shuffle([...Array(n).keys()]);
  for (let j = 0; j < size.unshownPosts; j++) codes.viewWeight[order[j]!] = 0;

  const posts: WorldPost[] = new Array<WorldPost>(n);
  for (let i = 0; i < n; i++) {
    posts[i] = {
      postId: ids[i]!,
      topic: TOPICS[codes.topic[i]!]!,
      text: postText(textRng, codes.topic[i]!, codes.subtopic[i]!, lengths[i]!),
      subtopic: codes.subtopic[i]!,
      quality: codes.effect[i]! - subMain[codes.subtopic[i]!]!,
    };
  }
  return { posts, codes };
}
