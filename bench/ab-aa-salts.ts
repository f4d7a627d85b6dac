// Were the A/A run's sample-ratio alarms the salts or the bucketing? Re-plans the visits of
// each A/A seed (the simulator's own planVisits, same seeds) and splits the visitors by the
// run's salt (aa-N) and by two other salts per seed; prints the mean per-seed χ² (1 expected for
// a fair hash).
//
//   npm run build && node dist/bench/ab-aa-salts.js [--seeds 162] [--visits 1000] [--world demo:1]
import { parseArgs } from 'node:util';
import { assignGroup } from '../src/ab/index.js';
import { parseWorld } from '../src/eval/index.js';
import { createWorld, EXPERIMENT_START_MS, planVisits } from '../src/world/index.js';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '162' },
    visits: { type: 'string', default: '1000' },
    world: { type: 'string', default: 'demo:1' },
  },
});
const seeds = Number(values.seeds);
const world = createWorld(parseWorld(values.world));
const salts = {
  run: (s: number) => `aa-${s}`,
  other1: (s: number) => `x-${s}`,
  other2: (s: number) => `aa-${s + 1000}`,
};
const chi: Record<string, number> = { run: 0, other1: 0, other2: 0 };
for (let s = 1; s <= seeds; s++) {
  // ab-aa.ts plans seed s with simulation seed 10,000 + s over 7 days.
  const plan = planVisits(world, 10_000 + s, Number(values.visits), EXPERIMENT_START_MS, 7);
  const users = [...new Set(plan.map((v) => v.userId))];
  for (const [name, salt] of Object.entries(salts)) {
    const control = users.filter((u) => assignGroup(salt(s), u, 0.5) === 'control').length;
    chi[name]! += (2 * control - users.length) ** 2 / users.length / seeds;
  }
}
console.log(`mean χ² per seed over ${seeds} seeds (1 expected):`, chi);
