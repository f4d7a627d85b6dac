import { DAY_MS, type FeatureStore } from './layout.js';
import { deriveTotals } from './load.js';

/**
 * Turns a loaded store into the store a cut-off snapshot of the log would give, for training
 * with `--until`: every like at or after the cut-off is removed and every per-day count stops
 * before the cut-off's day. The feature code already reads only events before a row's time, so
 * rows before the cut-off are unchanged; the cut makes that hold by construction, whatever the
 * feature code reads. The cut-off's own day is dropped as a whole because per-day counts cannot
 * tell its events before the cut-off from those after it (rows read only days before their own
 * day, so no row before the cut-off reads it).
 */
export function cutStoreAt(store: FeatureStore, untilMs: number): FeatureStore {
  const { users, posts, days } = store.dims;
  const D = days + 1;
  // Prefix index k holds the days before day k; the cut-off's day c is complete only up to k = c.
  const c = Math.floor((untilMs - store.meta.day0Ms) / DAY_MS);
  const keep = c < 0 ? 0 : c > days ? days : c;
  const freeze = (cum: Int32Array, rows: number) => {
    for (let r = 0; r < rows; r++) {
      const at = r * D;
      cum.fill(cum[at + keep]!, at + keep + 1, at + D);
    }
  };
  freeze(store.userViewsCum, users);
  freeze(store.postViewsCum, posts);
  freeze(store.postLikesCum, posts);

  // Likes are in time order per user: compact the CSR, keeping each user's prefix before the cut.
  let k = 0;
  let from = store.likeOffsets[0]!;
  for (let u = 0; u < users; u++) {
    const end = store.likeOffsets[u + 1]!;
    store.likeOffsets[u] = k;
    for (let j = from; j < end; j++) {
      if (store.likeAtSec[j]! * 1000 >= untilMs) break;
      store.likePost[k] = store.likePost[j]!;
      store.likeAtSec[k] = store.likeAtSec[j]!;
      k++;
    }
    from = end;
  }
  store.likeOffsets[users] = k;
  store.likePost.fill(0, k);
  store.likeAtSec.fill(0, k);
  deriveTotals(store);
  return store;
}
