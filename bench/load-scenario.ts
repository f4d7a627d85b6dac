// The load scenario (k6/scenario.json) as the Node load generator reads it: the same file and
// the same user/time distribution as k6/recommendations.js.
import { readFileSync } from 'node:fs';

export interface Phase {
  name: string;
  executor: 'constant-vus' | 'constant-arrival-rate';
  vus?: number;
  rate?: number;
  /** Open loop at this multiple of the capacity measured earlier in the run. */
  rateTimesCapacity?: number;
  duration: string;
  /** Pause before this phase; 0 starts it the moment the previous one stops (recovery). */
  gapSeconds?: number;
  preAllocatedVUs?: number;
  maxVUs?: number;
}

export interface Scenario {
  path: string;
  limit: number;
  users: { file: string };
  times: { from: string; to: string; dayStart: string; dayEnd: string };
  phases: Phase[];
  /** Named phase lists; a run takes one. */
  sets?: Record<string, string[]>;
  /** The phase whose model-ranked answers/s is the capacity (for rateTimesCapacity). */
  capacityPhase?: string;
  gapSeconds: number;
  requestTimeoutMs: number;
  thresholds: { p99Ms: number; errorRate: number };
}

export function readScenario(file: string): Scenario {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Scenario;
  if (!s.path || !Array.isArray(s.phases) || !s.thresholds) throw new Error(`${file}: not a load scenario`);
  return s;
}

export function durationMs(d: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(d);
  if (!m) throw new Error(`bad duration ${JSON.stringify(d)} (use e.g. 500ms, 30s, 2m)`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2] as 'ms' | 's' | 'm'];
}

/** User ids from a file (one per line) or an inclusive range "A-B" (for fixture servers). */
export function readUsers(opts: { file?: string; range?: string }): number[] {
  if (opts.range) {
    const m = /^(\d+)-(\d+)$/.exec(opts.range);
    if (!m || Number(m[2]) < Number(m[1]))
      throw new Error(`bad --user-range ${opts.range} (use e.g. 1-1000)`);
    return Array.from({ length: Number(m[2]) - Number(m[1]) + 1 }, (_, i) => Number(m[1]) + i);
  }
  let text: string;
  try {
    text = readFileSync(opts.file!, 'utf8');
  } catch {
    throw new Error(
      `users file ${opts.file} not found: write the world's user ids there, one per line ` +
        `(e.g. psql "$DATABASE_URL" -Atc 'SELECT user_id FROM user_data' > ${opts.file}), or pass --user-range A-B`,
    );
  }
  const ids = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^\d+$/.test(l))
    .map(Number);
  if (ids.length === 0) throw new Error(`users file ${opts.file} has no ids`);
  return ids;
}

/** Deterministic PRNG (mulberry32): the same seed replays the same requests. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DAY_MS = 86_400_000;
const secOfDay = (hms: string) => hms.split(':').reduce((acc, v) => acc * 60 + Number(v), 0);

/** Request paths drawn as the scenario says: user uniform from the list, time uniform in the period. */
export function pathSampler(s: Scenario, users: number[], random: () => number): () => string {
  const fromMs = Date.parse(`${s.times.from}T00:00:00Z`);
  const days = Math.round((Date.parse(`${s.times.to}T00:00:00Z`) - fromMs) / DAY_MS) + 1;
  const dayStart = secOfDay(s.times.dayStart);
  const daySpan = secOfDay(s.times.dayEnd) - dayStart + 1;
  return () => {
    const id = users[Math.floor(random() * users.length)]!;
    const day = Math.floor(random() * days);
    const sec = dayStart + Math.floor(random() * daySpan);
    const time = new Date(fromMs + day * DAY_MS + sec * 1000).toISOString().slice(0, 19);
    return `${s.path}?id=${id}&time=${time}&limit=${s.limit}`;
  };
}
