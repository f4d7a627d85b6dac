// Which target a log calls for (`feedrec train --target auto`, the default).
import type { DbSession } from '../db/index.js';
import { beforeCutoff } from './build-matrix.js';

export type TargetKind = 'view' | 'window';

/**
 * Above this share of views on the 1 % most viewed posts, the log is taken for one where users
 * choose what they view. A random feed spreads views: 0.022 in the demo world and about 0.023 in
 * the karpov log (per-post views 6,423 … 22,673); the taste world gives 0.115 (docs/exposure.md).
 */
export const CHOOSE_WINDOW_ABOVE = 0.05;

/** Share of the views before the cut-off that went to the 1 % most viewed posts. */
export async function viewConcentration(db: DbSession, untilMs?: number): Promise<number> {
  const [r] = await db.query<{ share: number | null }>(
    `with c as (select count(*) n from feed_data where action = 'view' and ${beforeCutoff(untilMs)} group by post_id),
          r as (select n, row_number() over (order by n desc) rk, count(*) over () posts, sum(n) over () total from c)
     select (sum(n) / max(total))::float8 share from r where rk <= ceil(posts * 0.01)`,
  );
  return r?.share ?? 0;
}

export interface TargetChoice {
  kind: TargetKind;
  chosenBy: 'flag' | 'log';
  /** The log's view concentration when the choice was made from it. */
  viewConcentration?: number;
}

/** The flag's target, or for 'auto' the one the log's view concentration calls for. */
export async function chooseTarget(
  db: DbSession,
  flag: TargetKind | 'auto',
  untilMs?: number,
): Promise<TargetChoice> {
  if (flag !== 'auto') return { kind: flag, chosenBy: 'flag' };
  const c = await viewConcentration(db, untilMs);
  return { kind: c > CHOOSE_WINDOW_ABOVE ? 'window' : 'view', chosenBy: 'log', viewConcentration: c };
}
