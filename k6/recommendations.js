// k6 version of the load scenario in k6/scenario.json (the Node twin is bench/load.ts).
//   k6 run -e BASE_URL=http://127.0.0.1:8000 -e USERS_FILE=../bench/users.txt k6/recommendations.js
// SET=overload|soak runs another phase set (default serve); their open-loop rates are multiples
// of CAPACITY (model-ranked answers/s at closed-64, measured first: k6 cannot feed one phase's
// result into the next). PHASES=closed-64,open-300 runs a list instead; DURATION=10s shortens
// every phase.
import http from 'k6/http';
import { check } from 'k6';
import { SharedArray } from 'k6/data';
import { Counter } from 'k6/metrics';

const scenario = JSON.parse(open('./scenario.json'));
const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8000';
const names = __ENV.PHASES ? __ENV.PHASES.split(',') : scenario.sets[__ENV.SET || 'serve'];
if (!names) throw new Error(`no phase set ${__ENV.SET} in scenario.json`);
const capacity = Number(__ENV.CAPACITY);

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
for (const [i, name] of names.entries()) {
  const p = scenario.phases.find((x) => x.name === name);
  if (!p) throw new Error(`no phase ${name} in scenario.json`);
  if (i > 0) start += p.gapSeconds ?? scenario.gapSeconds;
  const duration = __ENV.DURATION || p.duration;
  const rate = p.rateTimesCapacity === undefined ? p.rate : Math.round(p.rateTimesCapacity * capacity);
  if (p.executor !== 'constant-vus' && !(rate > 0)) throw new Error(`phase ${name} needs -e CAPACITY=…`);
  // k6 scenario names are unique; a phase that runs twice (recover-64) gets its position appended.
  const key = names.indexOf(name) === i ? name : `${name}-${i}`;
  const common = {
    executor: p.executor,
    duration,
    startTime: `${start}s`,
    gracefulStop: '5s',
    tags: { phase: key },
  };
  scenarios[key] =
    p.executor === 'constant-vus'
      ? { ...common, vus: p.vus }
      : { ...common, rate, timeUnit: '1s', preAllocatedVUs: p.preAllocatedVUs, maxVUs: p.maxVUs };
  thresholds[`http_req_duration{phase:${key}}`] = [`p(99)<${scenario.thresholds.p99Ms}`];
  thresholds[`http_req_failed{phase:${key}}`] = [`rate<${scenario.thresholds.errorRate}`];
  start += seconds(duration);
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

// What ranked each 200 (the X-Model-Version header): the goodput of bench/overload.ts.
const modelRanked = new Counter('model_ranked');
const fallbacks = new Counter('fallback_answers');

export default function () {
  const id = users[Math.floor(Math.random() * users.length)];
  const url = `${BASE_URL}${scenario.path}?id=${id}&time=${drawTime()}&limit=${scenario.limit}`;
  const res = http.get(url, { timeout: `${scenario.requestTimeoutMs}ms`, tags: { name: scenario.path } });
  check(res, { 'status is 200': (r) => r.status === 200 });
  if (res.status === 200) {
    const ranker = res.headers['X-Model-Version'] || '';
    (ranker.startsWith('fallback') ? fallbacks : modelRanked).add(1);
  }
}
