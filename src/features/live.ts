import type { FeatureStore } from './layout.js';

/**
 * The live part of the feature store: views and likes logged after the snapshot the store was
 * loaded from. The snapshot's arrays are immutable and shared by every worker; new rows go into
 * a fixed pool of events chained per user (layout in layout.ts). Exactly one thread appends
 * (the main thread, which follows the log); workers read concurrently without locks.
 *
 * A reload of a fresh snapshot rebuilds this part from scratch: allocate a new store (its pool
 * is empty) and append the rows logged after the new snapshot's watermark.
 */

export const LIVE_VIEW = 0;
export const LIVE_LIKE = 1;
export type LiveKind = typeof LIVE_VIEW | typeof LIVE_LIKE;

/** One feed row as the store knows it: indexes, not ids. */
export interface LiveEvent {
  ui: number;
  /** Post index, or -1 for a view of a post the store does not know. */
  pi: number;
  atSec: number;
  kind: LiveKind;
}

const USED = 0;
const DROPPED = 1;

/**
 * Appends one event and publishes it. Returns false (and counts a drop) when the pool is full:
 * serving goes on with what it has until the next snapshot makes room.
 */
export function appendLiveEvent(store: FeatureStore, e: LiveEvent): boolean {
  const used = store.liveCounters[USED]!;
  if (used >= store.dims.liveEvents) {
    Atomics.add(store.liveCounters, DROPPED, 1);
    return false;
  }
  store.livePost[used] = e.pi;
  store.liveAtSec[used] = e.atSec;
  store.liveKind[used] = e.kind;
  store.liveNext[used] = store.liveHead[e.ui]!;
  Atomics.store(store.liveCounters, USED, used + 1);
  // The publishing write: everything above happens-before a reader's Atomics.load of the head.
  Atomics.store(store.liveHead, e.ui, used);
  return true;
}

/** Visits user ui's live events, newest first (any thread). */
export function forEachLiveEvent(
  store: FeatureStore,
  ui: number,
  fn: (pi: number, atSec: number, kind: number) => void,
): void {
  for (let k = Atomics.load(store.liveHead, ui); k >= 0; k = store.liveNext[k]!) {
    fn(store.livePost[k]!, store.liveAtSec[k]!, store.liveKind[k]!);
  }
}

export interface LiveStats {
  capacity: number;
  used: number;
  dropped: number;
}

export function liveStats(store: FeatureStore): LiveStats {
  return {
    capacity: store.dims.liveEvents,
    used: Atomics.load(store.liveCounters, USED),
    dropped: Atomics.load(store.liveCounters, DROPPED),
  };
}
