import { describe, expect, it } from 'vitest';
import { ShedHold, type Holdable, type HoldClock } from '../../src/http/shed-hold.js';

/** A clock whose time the test sets and whose timers run only when the test says so. */
function manualClock() {
  const timers: { at: number; fn: () => void }[] = [];
  const clock: HoldClock & { t: number } = {
    t: 0,
    now: () => clock.t,
    setTimer: (fn, ms) => timers.push({ at: clock.t + ms, fn }),
  };
  /** Moves time to `t` and runs the timers due by then. */
  const advance = (t: number) => {
    clock.t = t;
    for (const due of timers.filter((x) => x.at <= t)) {
      timers.splice(timers.indexOf(due), 1);
      due.fn();
    }
  };
  return { clock, advance, pending: () => timers.length };
}

function connection() {
  const c = { paused: false, destroyed: false, resumed: 0 };
  const conn: Holdable & typeof c = Object.assign(c, {
    pause: () => (c.paused = true),
    resume: () => {
      c.paused = false;
      c.resumed += 1;
    },
  });
  return conn;
}

describe('holding connections that ignore Retry-After', () => {
  it('reads on after a first refusal: a client may not have been told before', () => {
    const { clock } = manualClock();
    const hold = new ShedHold({ holdMs: 1000, clock });
    const c = connection();
    expect(hold.refused(c)).toBe(false);
    expect(c.paused).toBe(false);
  });

  it('holds a connection refused again within Retry-After until this refusal’s Retry-After has passed', () => {
    const { clock, advance } = manualClock();
    const events: boolean[] = [];
    const hold = new ShedHold({ holdMs: 1000, clock, onHold: (h) => events.push(h) });
    const c = connection();
    hold.refused(c);
    advance(3);
    expect(hold.refused(c)).toBe(true);
    expect(c.paused).toBe(true);
    expect(hold.held).toBe(1);
    advance(1002);
    expect(c.paused).toBe(true);
    advance(1003);
    expect(c.paused).toBe(false);
    expect(hold.held).toBe(0);
    expect(events).toEqual([true, false]);
  });

  it('never holds a client that waits out Retry-After between requests', () => {
    const { clock, advance, pending } = manualClock();
    const hold = new ShedHold({ holdMs: 1000, clock });
    const c = connection();
    for (let t = 0; t <= 5000; t += 1000) {
      advance(t);
      expect(hold.refused(c)).toBe(false);
    }
    expect(pending()).toBe(0);
  });

  it('holds each connection on its own', () => {
    const { clock, advance } = manualClock();
    const hold = new ShedHold({ holdMs: 1000, clock });
    const a = connection();
    const b = connection();
    hold.refused(a);
    hold.refused(b);
    advance(500);
    expect(hold.refused(a)).toBe(true);
    advance(1200);
    expect(hold.refused(b)).toBe(false); // 1,200 ms after its previous refusal
    expect([a.paused, b.paused]).toEqual([true, false]);
  });

  it('leaves a connection closed during its hold alone', () => {
    const { clock, advance } = manualClock();
    const hold = new ShedHold({ holdMs: 1000, clock });
    const c = connection();
    hold.refused(c);
    hold.refused(c);
    c.destroyed = true;
    advance(1000);
    expect(c.resumed).toBe(0);
    expect(hold.held).toBe(0);
    expect(hold.refused(c)).toBe(false);
  });

  it('does nothing with a hold of 0 ms', () => {
    const { clock } = manualClock();
    const hold = new ShedHold({ holdMs: 0, clock });
    const c = connection();
    expect(hold.enabled).toBe(false);
    for (let i = 0; i < 5; i++) expect(hold.refused(c)).toBe(false);
    expect(c.paused).toBe(false);
  });
});
