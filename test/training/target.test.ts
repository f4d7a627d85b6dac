import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.js';
import { chooseTarget, CHOOSE_WINDOW_ABOVE, viewConcentration } from '../../src/training/target.js';
import { writeWorld } from '../../src/world/index.js';
import { dbVariants } from '../helpers/db.js';

describe('choosing the training target from the log (train --target auto)', () => {
  let random: { db: Database; drop(): Promise<void> };
  let taste: { db: Database; drop(): Promise<void> };
  beforeAll(async () => {
    random = await dbVariants[0]!.fresh();
    taste = await dbVariants[0]!.fresh();
    await writeWorld(random.db, { seed: 3, scale: 'tiny' });
    await writeWorld(taste.db, { seed: 3, scale: 'tiny', exposure: 'taste' });
  });
  afterAll(async () => {
    await random?.drop();
    await taste?.drop();
  });

  it('keeps P(like | view) for a random feed and picks the window target where users choose', async () => {
    const r = await chooseTarget(random.db, 'auto');
    const t = await chooseTarget(taste.db, 'auto');
    expect(r).toMatchObject({ kind: 'view', chosenBy: 'log' });
    expect(t).toMatchObject({ kind: 'window', chosenBy: 'log' });
    expect(r.viewConcentration).toBeLessThan(CHOOSE_WINDOW_ABOVE / 1.5);
    expect(t.viewConcentration).toBeGreaterThan(CHOOSE_WINDOW_ABOVE * 1.5);
  });

  it('measures only the views before the cut-off, and obeys a flag', async () => {
    const all = await viewConcentration(taste.db);
    const early = await viewConcentration(taste.db, Date.UTC(2021, 9, 2));
    expect(early).not.toBe(all);
    expect(await chooseTarget(taste.db, 'view')).toEqual({ kind: 'view', chosenBy: 'flag' });
    expect(await chooseTarget(random.db, 'window')).toEqual({ kind: 'window', chosenBy: 'flag' });
  });
});
