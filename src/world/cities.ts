import { Rng } from './rng.js';

// City pools per country: the real big cities first, then a long tail of made-up names. Pools do
// not depend on the world seed (only who lives where does), and together hold exactly the
// 3,915 distinct cities of the real table.

export interface CountryPool {
  country: string;
  share: number;
  /** City names; the first ones are the big cities. */
  cities: string[];
  /** Unnormalised weights, same order. */
  weights: Float64Array;
}

interface CountrySpec {
  country: string;
  share: number;
  size: number;
  big: [string, number][];
  /** Zipf exponent of the tail. */
  zipf: number;
}

// Shares of users inside a country for the big cities; Moscow and Saint Petersburg are the real
// 21,874 and 6,904 of 163,205 users (13.4 % and 4.2 % of all, i.e. of 87.6 % Russians).
const SPECS: CountrySpec[] = [
  {
    country: 'Russia',
    share: 0.876,
    size: 3298,
    zipf: 0.95,
    big: [
      ['Moscow', 0.153],
      ['Saint Petersburg', 0.0483],
      ['Novosibirsk', 0.014],
      ['Yekaterinburg', 0.013],
      ['Kazan', 0.012],
      ['Nizhniy Novgorod', 0.011],
      ['Chelyabinsk', 0.01],
      ['Samara', 0.01],
      ['Omsk', 0.009],
      ['Rostov', 0.009],
      ['Ufa', 0.009],
      ['Krasnoyarsk', 0.008],
      ['Voronezh', 0.008],
      ['Perm', 0.008],
      ['Volgograd', 0.007],
      ['Krasnodar', 0.007],
      ['Saratov', 0.006],
      ['Tyumen', 0.006],
    ],
  },
  {
    country: 'Ukraine',
    share: 0.049,
    size: 250,
    zipf: 1,
    big: [
      ['Kyiv', 0.2],
      ['Kharkiv', 0.08],
      ['Odesa', 0.07],
      ['Dnipro', 0.06],
      ['Lviv', 0.05],
      ['Zaporizhzhya', 0.04],
    ],
  },
  {
    country: 'Belarus',
    share: 0.021,
    size: 100,
    zipf: 1,
    big: [
      ['Minsk', 0.3],
      ['Gomel', 0.08],
      ['Mogilev', 0.06],
      ['Vitebsk', 0.06],
      ['Grodno', 0.05],
      ['Brest', 0.05],
    ],
  },
  {
    country: 'Kazakhstan',
    share: 0.02,
    size: 120,
    zipf: 1,
    big: [
      ['Almaty', 0.2],
      ['Nur-Sultan', 0.15],
      ['Shymkent', 0.06],
      ['Karagandy', 0.05],
    ],
  },
  {
    country: 'Finland',
    share: 0.01,
    size: 40,
    zipf: 1,
    big: [
      ['Helsinki', 0.3],
      ['Espoo', 0.08],
      ['Tampere', 0.08],
      ['Vantaa', 0.06],
      ['Turku', 0.05],
    ],
  },
  {
    country: 'Turkey',
    share: 0.01,
    size: 40,
    zipf: 1,
    big: [
      ['Istanbul', 0.3],
      ['Ankara', 0.12],
      ['Izmir', 0.08],
      ['Antalya', 0.07],
    ],
  },
  {
    country: 'Azerbaijan',
    share: 0.009,
    size: 30,
    zipf: 1,
    big: [
      ['Baku', 0.45],
      ['Ganja', 0.08],
      ['Sumqayit', 0.06],
    ],
  },
  {
    country: 'Estonia',
    share: 0.0015,
    size: 15,
    zipf: 1,
    big: [
      ['Tallinn', 0.4],
      ['Tartu', 0.15],
    ],
  },
  {
    country: 'Latvia',
    share: 0.0015,
    size: 12,
    zipf: 1,
    big: [
      ['Riga', 0.5],
      ['Daugavpils', 0.1],
    ],
  },
  {
    country: 'Cyprus',
    share: 0.001,
    size: 5,
    zipf: 1,
    big: [
      ['Limassol', 0.4],
      ['Nicosia', 0.3],
    ],
  },
  {
    country: 'Switzerland',
    share: 0.001,
    size: 5,
    zipf: 1,
    big: [
      ['Zurich', 0.35],
      ['Geneva', 0.25],
    ],
  },
];

const ONSETS = [
  'b',
  'v',
  'g',
  'd',
  'k',
  'l',
  'm',
  'n',
  'p',
  'r',
  's',
  't',
  'z',
  'sh',
  'ch',
  'kr',
  'st',
  'br',
];
const VOWELS = ['a', 'o', 'e', 'i', 'u', 'ya'];
const ENDINGS = ['sk', 'ovo', 'evo', 'ino', 'ovka', 'grad', 'insk', 'any', 'ets', 'ov', 'ka', 'ye'];
const PREFIXES = ['', '', '', 'Novo', 'Staro', 'Krasno', 'Belo', 'Ust-', 'Verkhne', 'Nizhne'];

function madeUpName(rng: Rng): string {
  const syllables = 1 + rng.int(2);
  let s = '';
  for (let i = 0; i < syllables; i++) s += ONSETS[rng.int(ONSETS.length)]! + VOWELS[rng.int(VOWELS.length)]!;
  s += ONSETS[rng.int(ONSETS.length)]! + ENDINGS[rng.int(ENDINGS.length)]!;
  const prefix = PREFIXES[rng.int(PREFIXES.length)]!;
  const word = s.charAt(0).toUpperCase() + s.slice(1);
  return prefix ? prefix + (prefix.endsWith('-') ? word : word.toLowerCase()) : word;
}

let cached: CountryPool[] | undefined;

/** The country and city pools (3,915 distinct city names in all). */
export function countryPools(): CountryPool[] {
  if (cached) return cached;
  const rng = new Rng(20211001, 0xc17);
  const seen = new Set<string>();
  for (const s of SPECS) for (const [c] of s.big) seen.add(c);
  cached = SPECS.map((s) => {
    const cities = s.big.map(([c]) => c);
    const weights: number[] = s.big.map(([, w]) => w);
    const bigShare = weights.reduce((a, b) => a + b, 0);
    const tail = s.size - cities.length;
    let h = 0;
    for (let r = 1; r <= tail; r++) h += 1 / Math.pow(r, s.zipf);
    for (let r = 1; r <= tail; r++) {
      let name = madeUpName(rng);
      while (seen.has(name)) name = madeUpName(rng);
      seen.add(name);
      cities.push(name);
      weights.push(((1 - bigShare) * (1 / Math.pow(r, s.zipf))) / h);
    }
    return { country: s.country, share: s.share, cities, weights: Float64Array.from(weights) };
  });
  return cached;
}
