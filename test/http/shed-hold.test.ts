import { describe, expect, it } from 'vitest';
import { ShedHold, type Holdable, type HoldClock } from '../../src/http/shed-hold.js';

/** A clock whose time the test sets and whose timers run only when time is moved past them. */
function manualClock() {
  const timers: { at: number; fn: () => void }[] = [];
  const clock: HoldClock & { t: number } = {
    t: 0,
    now: () => clock.t,
    setTimer: (fn, ms) => timers.push({ at: clock.t + ms, fn }),
  };
  /** Moves time to `t` in 1 ms steps, running each timer when it falls due. */
  const advance = (t: number) => {
    while (clock.t < t) {
      clock.t += 1;
      for (const due of timers.filter((x) => x.at <= clock.t)) {
        timers.splice(timers.indexOf(due), 1);
        due.fn();
      }
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

function setup(o: { holdMs?: number; releasePerTick?: number; holdOn?: 'refusal' | 'repeat' } = {}) {
  const { clock, advance, pending } = manualClock();
  const room = { now: false };
  const events: boolean[] = [];
  const hold = new ShedHold({
    holdMs: o.holdMs ?? 1000,
    holdOn: o.holdOn,
    hasRoom: () => room.now,
    tickMs: 5,
    releasePerTick: o.releasePerTick ?? 2,
    clock,
    onHold: (h) => events.push(h),
  });
  /** A refused connection: held. */
  const holdOne = () => {
    const c = connection();
    hold.refused(c);
    return c;
  };
  return { hold, clock, advance, pending, room, events, holdOne };
}

describe('holding connections that ignore Retry-After', () => {
  it('holds a refused connection, at most until its Retry-After has passed', () => {
    const { hold, advance, events } = setup();
    const c = connection();
    advance(3);
    expect(hold.refused(c)).toBe(true);
    expect(c.paused).toBe(true);
    expect(hold.held).toBe(1);
    advance(1002); // no room all along
    expect(c.paused).toBe(true);
    advance(1005); // the first tick after 3 + 1,000 ms
    expect(c.paused).toBe(false);
    expect(hold.held).toBe(0);
    expect(events).toEqual([true, false]);
  });

  it('on repeat only: reads on after a first refusal (the client may not have been told before)', () => {
    const { hold } = setup({ holdOn: 'repeat' });
    const c = connection();
    expect(hold.refused(c)).toBe(false);
    expect(c.paused).toBe(false);
  });

  it('on repeat only: holds a connection refused again within Retry-After, at most until that Retry-After has passed', () => {
    const { hold, advance, events } = setup({ holdOn: 'repeat' });
    const c = connection();
    hold.refused(c);
    advance(3);
    expect(hold.refused(c)).toBe(true);
    expect(c.paused).toBe(true);
    expect(hold.held).toBe(1);
    advance(1000); // no room all along
    expect(c.paused).toBe(true);
    advance(1005); // a tick after 3 + 1,000 ms
    expect(c.paused).toBe(false);
    expect(hold.held).toBe(0);
    expect(events).toEqual([true, false]);
  });

  it('releases held connections early, oldest first and a few per tick, once the queue has room', () => {
    const { hold, advance, room, holdOne } = setup({ releasePerTick: 2 });
    const conns = [holdOne(), holdOne(), holdOne()];
    advance(20);
    expect(conns.map((c) => c.paused)).toEqual([true, true, true]);
    room.now = true;
    advance(25); // one tick
    expect(conns.map((c) => c.paused)).toEqual([false, false, true]);
    advance(30);
    expect(conns.map((c) => c.paused)).toEqual([false, false, false]);
    expect(hold.held).toBe(0);
  });

  it('stops ticking when nothing is held, and starts again with the next hold', () => {
    const { advance, pending, room, holdOne } = setup();
    room.now = true;
    holdOne();
    advance(10);
    expect(pending()).toBe(0);
    const c = holdOne();
    expect(pending()).toBe(1);
    advance(20);
    expect(c.paused).toBe(false);
  });

  it('a client that waits out Retry-After finds its connection read again by then', () => {
    const { hold, advance } = setup();
    const c = connection();
    for (let t = 0; t <= 5000; t += 1000) {
      advance(t);
      expect(c.paused).toBe(false);
      expect(hold.refused(c)).toBe(true);
    }
  });

  it('on repeat only: never holds a client that waits out Retry-After between requests', () => {
    const { hold, advance, pending } = setup({ holdOn: 'repeat' });
    const c = connection();
    for (let t = 0; t <= 5000; t += 1000) {
      advance(t);
      expect(hold.refused(c)).toBe(false);
    }
    expect(pending()).toBe(0);
  });

  it('on repeat only: holds each connection on its own', () => {
    const { hold, advance } = setup({ holdOn: 'repeat' });
    const a = connection();
    const b = connection();
    hold.refused(a);
    hold.refused(b);
    advance(500);
    expect(hold.refused(a)).toBe(true);
    advance(1200);
    expect(hold.refused(b)).toBe(false); // 1,200 ms after its previous refusal
    expect(b.paused).toBe(false);
  });

  it('forgets a connection closed while held, without resuming it', () => {
    const { hold, advance, room, holdOne, events } = setup();
    const c = holdOne();
    c.destroyed = true;
    room.now = true;
    advance(10);
    expect(c.resumed).toBe(0);
    expect(hold.held).toBe(0);
    expect(events).toEqual([true, false]);
  });

  it('does nothing with a hold of 0 ms', () => {
    const { hold, pending } = setup({ holdMs: 0 });
    const c = connection();
    expect(hold.enabled).toBe(false);
    for (let i = 0; i < 5; i++) expect(hold.refused(c)).toBe(false);
    expect(c.paused).toBe(false);
    expect(pending()).toBe(0);
  });
});
