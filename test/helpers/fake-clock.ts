import type { BatcherClock } from '../../src/ranking/batcher.js';

/** A clock whose time only moves when the test says so; timers fire in due order. */
export class FakeClock implements BatcherClock {
  private t = 0;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  now() {
    return this.t;
  }
  setTimer(fn: () => void, ms: number) {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimer(h: unknown) {
    this.timers.delete(h as number);
  }
  get armed() {
    return this.timers.size;
  }
  /** Time passes but no timer fires (an event loop busy elsewhere); they fire late, on advance. */
  stall(ms: number) {
    this.t += ms;
  }
  advance(ms: number) {
    const end = this.t + ms;
    // A timer that re-arms itself for the same instant would spin forever: fail instead.
    for (let fired = 0; ; fired++) {
      if (fired > 100_000) throw new Error('timers keep firing without time passing');
      const next = [...this.timers.entries()]
        .filter(([, v]) => v.at <= end)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
}
