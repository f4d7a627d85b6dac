// k6 version of the load scenario in k6/scenario.json (the Node twin is bench/load.ts).
//   k6 run -e BASE_URL=http://127.0.0.1:8000 -e USERS_FILE=../bench/users.txt k6/recommendations.js
// PHASES=closed-64,open-300 runs a subset; DURATION=10s shortens every phase.
import http from 'k6/http';
import { check } from 'k6';
import { SharedArray } from 'k6/data';

const scenario = JSON.parse(open('./scenario.json'));
const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8000';
const only = __ENV.PHASES ? __ENV.PHASES.split(',') : null;

const users = new SharedArray('users', () =>
  open(__ENV.USERS_FILE || `../${scenario.users.file}`)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^\d+$/.test(l))
    .map(Number),
);

const seconds = (d) => {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(d);
  if (!m) throw new Error(`bad duration ${d}`);
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60 }[m[2]];
};

// Phases run back to back: each starts after the previous one plus the gap.
const scenarios = {};
const thresholds = {
  http_req_duration: [`p(99)<${scenario.thresholds.p99Ms}`],
  http_req_failed: [`rate<${scenario.thresholds.errorRate}`],
};
let start = 0;
for (const p of scenario.phases) {
  if (only && !only.includes(p.name)) continue;
  const duration = __ENV.DURATION || p.duration;
  const common = {
    executor: p.executor,
    duration,
    startTime: `${start}s`,
    gracefulStop: '5s',
    tags: { phase: p.name },
  };
  scenarios[p.name] =
    p.executor === 'constant-vus'
      ? { ...common, vus: p.vus }
      : { ...common, rate: p.rate, timeUnit: '1s', preAllocatedVUs: p.preAllocatedVUs, maxVUs: p.maxVUs };
  thresholds[`http_req_duration{phase:${p.name}}`] = [`p(99)<${scenario.thresholds.p99Ms}`];
  thresholds[`http_req_failed{phase:${p.name}}`] = [`rate<${scenario.thresholds.errorRate}`];
  start += seconds(duration) + scenario.gapSeconds;
}

export const options = { scenarios, thresholds, discardResponseBodies: true };

const DAY_MS = 86_400_000;
const fromMs = Date.parse(`${scenario.times.from}T00:00:00Z`);
const days = Math.round((Date.parse(`${scenario.times.to}T00:00:00Z`) - fromMs) / DAY_MS) + 1;
const secOfDay = (hms) => hms.split(':').reduce((acc, v) => acc * 60 + Number(v), 0);
const dayStart = secOfDay(scenario.times.dayStart);
const daySpan = secOfDay(scenario.times.dayEnd) - dayStart + 1;

/** Same distribution as drawTime() in bench/load.ts. */
function drawTime() {
  const day = Math.floor(Math.random() * days);
  const sec = dayStart + Math.floor(Math.random() * daySpan);
  return new Date(fromMs + day * DAY_MS + sec * 1000).toISOString().slice(0, 19);
}

export default function () {
  const id = users[Math.floor(Math.random() * users.length)];
  const url = `${BASE_URL}${scenario.path}?id=${id}&time=${drawTime()}&limit=${scenario.limit}`;
  const res = http.get(url, { timeout: `${scenario.requestTimeoutMs}ms`, tags: { name: scenario.path } });
  check(res, { 'status is 200': (r) => r.status === 200 });
}
