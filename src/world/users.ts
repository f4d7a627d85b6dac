import { countryPools } from './cities.js';
import { SCALE_SIZES, USER_ID_MIN, type WorldSpec } from './constants.js';
import { Rng, STREAM } from './rng.js';

export interface WorldUser {
  userId: number;
  gender: number;
  age: number;
  country: string;
  city: string;
  expGroup: number;
  os: string;
  source: string;
}

/** Demographic codes used by the ground truth, aligned with the users array. */
export interface UserCodes {
  country: Uint8Array;
  gender: Uint8Array;
  os: Uint8Array; // 0 Android, 1 iOS
  source: Uint8Array; // 0 ads, 1 organic
  expGroup: Uint8Array;
  age: Uint8Array;
}

// Inverse CDF of age: real quartiles 19 / 24 / 33, mean 27.2, range 14 … 95.
const AGE_QUANTILES: [number, number][] = [
  [0, 14],
  [0.25, 19.5],
  [0.5, 24.5],
  [0.75, 33.5],
  [0.9, 42],
  [0.96, 49],
  [0.99, 58],
  [0.999, 72],
  [1, 95.99],
];

function drawAge(u: number): number {
  for (let i = 1; i < AGE_QUANTILES.length; i++) {
    const [p1, a1] = AGE_QUANTILES[i]!;
    if (u <= p1) {
      const [p0, a0] = AGE_QUANTILES[i - 1]!;
      return Math.floor(a0 + ((u - p0) / (p1 - p0)) * (a1 - a0));
    }
  }
  return 95;
}

/** n distinct sorted ids from [lo, hi], uniformly (Knuth's selection sampling: one pass). */
export function sparseIds(rng: Rng, n: number, lo: number, hi: number): Int32Array {
  const out = new Int32Array(n);
  let need = n;
  let k = 0;
  for (let id = lo; id <= hi && need > 0; id++) {
    const left = hi - id + 1;
    if (rng.next() * left < need) {
      out[k++] = id;
      need--;
    }
  }
  return out;
}

export function generateUsers(spec: WorldSpec): { users: WorldUser[]; codes: UserCodes } {
  const size = SCALE_SIZES[spec.scale];
  const n = size.users;
  const ids = sparseIds(new Rng(spec.seed, STREAM.ids, 1), n, USER_ID_MIN, size.userIdMax);
  const rng = new Rng(spec.seed, STREAM.users);
  const pools = countryPools();
  const countryShares = pools.map((p) => p.share);
  const codes: UserCodes = {
    country: new Uint8Array(n),
    gender: new Uint8Array(n),
    os: new Uint8Array(n),
    source: new Uint8Array(n),
    expGroup: new Uint8Array(n),
    age: new Uint8Array(n),
  };
  const cityIndex = new Int32Array(n);
  const cumulative = pools.map((pool) => {
    let acc = 0;
    return Float64Array.from(pool.weights, (w) => (acc += w));
  });
  for (let i = 0; i < n; i++) {
    const c = rng.pick(countryShares);
    codes.country[i] = c;
    cityIndex[i] = rng.pickCumulative(cumulative[c]!);
    codes.gender[i] = rng.next() < 0.55 ? 1 : 0;
    codes.age[i] = drawAge(rng.next());
    codes.os[i] = rng.next() < 0.649 ? 0 : 1;
    codes.source[i] = rng.next() < 0.623 ? 0 : 1;
    codes.expGroup[i] = rng.int(5);
  }
  if (n >= 100_000) fillEveryCity(codes.country, cityIndex);
  const users: WorldUser[] = new Array<WorldUser>(n);
  for (let i = 0; i < n; i++) {
    const pool = pools[codes.country[i]!]!;
    users[i] = {
      userId: ids[i]!,
      gender: codes.gender[i]!,
      age: codes.age[i]!,
      country: pool.country,
      city: pool.cities[cityIndex[i]!]!,
      expGroup: codes.expGroup[i]!,
      os: codes.os[i] === 0 ? 'Android' : 'iOS',
      source: codes.source[i] === 0 ? 'ads' : 'organic',
    };
  }
  return { users, codes };
}

/**
 * At full scale every city of the pools appears, as in the real table (3,915 distinct): a city
 * the draw missed takes one user from its country's biggest city.
 */
function fillEveryCity(country: Uint8Array, city: Int32Array): void {
  const pools = countryPools();
  pools.forEach((pool, c) => {
    const count = new Int32Array(pool.cities.length);
    const members: number[] = [];
    for (let i = 0; i < country.length; i++) {
      if (country[i] !== c) continue;
      count[city[i]!]!++;
      members.push(i);
    }
    let donor = 0;
    for (let k = 0; k < pool.cities.length; k++) {
      if (count[k]! > 0) continue;
      while (donor < members.length && (city[members[donor]!] !== 0 || count[0]! <= 1)) donor++;
      if (donor >= members.length) return;
      const i = members[donor++]!;
      count[0]!--;
      city[i] = k;
      count[k]!++;
    }
  });
}
