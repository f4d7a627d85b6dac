import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeadlineExceededError, OverloadedError } from '../../src/errors/index.js';
import {
  AimdAdmission,
  CoDelAdmission,
  QueueTimeAdmission,
  createAdmission,
  type AdmissionPolicy,
} from '../../src/ranking/admission.js';
import { ItemFailure, MicroBatcher, type DropReason } from '../../src/ranking/batcher.js';
import { FakeClock } from '../helpers/fake-clock.js';

interface Item {
  id: number;
  key?: string;
  deadline: number;
}

/** A batcher over a fake clock whose batches the test completes by hand, recording what it sent. */
function harness(
  opts: { admission?: AdmissionPolicy; maxBatch?: number; slots?: number; keyed?: boolean } = {},
) {
  const clock = new FakeClock();
  const sent: { items: Item[]; at: number; done: (r?: (string | ItemFailure)[]) => void }[] = [];
  const drops: Record<DropReason, number> = { admission: 0, 'max-wait': 0, deadline: 0 };
  const b = new MicroBatcher<Item, string>({
    maxBatch: opts.maxBatch ?? 4,
    maxDelayMs: 0,
    maxConcurrentFlushes: opts.slots ?? 1,
    clock,
    admission: opts.admission,
    key: opts.keyed ? (i) => i.key ?? '' : undefined,
    onDrop: (reason, n) => (drops[reason] += n),
    flush: (items) =>
      new Promise((resolve) =>
        sent.push({ items, at: clock.now(), done: (r) => resolve(r ?? items.map((i) => `r${i.id}`)) }),
      ),
  });
  const outcomes = new Map<number, string>();
  let nextId = 0;
  const add = (deadlineIn = 1000, key?: string) => {
    const item: Item = { id: nextId++, key, deadline: clock.now() + deadlineIn };
    b.add(item, item.deadline).then(
      (r) => outcomes.set(item.id, r),
      (e: Error) => outcomes.set(item.id, e.name),
    );
    return item.id;
  };
  return { clock, b, sent, drops, outcomes, add };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('ranking queue: expired work', () => {
  it('drops a request whose deadline passes while every worker is busy, at its deadline, before any flush', async () => {
    const h = harness();
    h.add(1000); // occupies the only slot
    const late = h.add(50);
    const live = h.add(500);
    h.clock.advance(50);
    await settle();
    expect(h.outcomes.get(late)).toBe('DeadlineExceededError');
    expect(h.b.pending).toBe(1);
    expect(h.drops.deadline).toBe(1);
    h.sent[0]!.done();
    await settle();
    expect(h.sent.map((s) => s.items.map((i) => i.id))).toEqual([[0], [live]]);
  });

  it('sends only live requests even when deadlines are not in arrival order', async () => {
    const h = harness({ maxBatch: 8 });
    h.add(1000);
    const ids = [h.add(300), h.add(20), h.add(300), h.add(10)];
    // ids[1] and ids[3] pass their deadline while the event loop is busy (their timer is late),
    // and the running batch comes back first: the dispatch itself must leave them out.
    h.clock.stall(25);
    h.sent[0]!.done();
    await settle();
    expect(h.sent[1]!.items.map((i) => i.id)).toEqual([ids[0], ids[2]]);
    expect(h.outcomes.get(ids[1]!)).toBe('DeadlineExceededError');
    expect(h.outcomes.get(ids[3]!)).toBe('DeadlineExceededError');
  });

  it('refuses at once a request that arrives with its deadline already passed', async () => {
    const h = harness();
    const id = h.add(0);
    await settle();
    expect(h.outcomes.get(id)).toBe('DeadlineExceededError');
    expect(h.sent).toHaveLength(0);
  });

  it('fails only the items a flush marks as failed (a worker that found them expired)', async () => {
    const h = harness();
    h.add(); // occupies the only slot, so the next two share a batch
    const [a, b] = [h.add(), h.add()];
    h.sent[0]!.done();
    await settle();
    h.sent[1]!.done(['ok', new ItemFailure(new DeadlineExceededError())]);
    await settle();
    expect(h.outcomes.get(a)).toBe('ok');
    expect(h.outcomes.get(b)).toBe('DeadlineExceededError');
  });

  it('never hands flush a request past its deadline, and never holds more than the limit (random schedules)', async () => {
    const op = fc.oneof(
      { arbitrary: fc.record({ add: fc.integer({ min: 0, max: 200 }) }), weight: 4 },
      { arbitrary: fc.record({ advance: fc.integer({ min: 0, max: 80 }) }), weight: 1 },
      // Time passes with the event loop busy: timers fire late, a batch may come back first.
      { arbitrary: fc.record({ stall: fc.integer({ min: 0, max: 80 }) }), weight: 1 },
      { arbitrary: fc.record({ complete: fc.nat(3) }), weight: 2 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('queue-time', 'codel', 'aimd', 'fixed'),
        // size 'max': schedules of up to 120 steps (fast-check's default size keeps arrays near 10).
        fc.array(op, { maxLength: 120, size: 'max' }),
        async (policy, ops) => {
          const admission = createAdmission(
            { policy: policy as 'fixed', limit: 4, targetMs: 40, slots: 2, workers: 2, minQueue: 4 },
            0,
          );
          const h = harness({ admission, slots: 2, maxBatch: 3 });
          for (const o of ops) {
            if ('add' in o) h.add(o.add);
            else if ('advance' in o) h.clock.advance(o.advance);
            else if ('stall' in o) h.clock.stall(o.stall);
            else {
              const open = h.sent.filter((s) => !('closed' in s));
              const s = open[o.complete % Math.max(1, open.length)];
              if (s) {
                Object.assign(s, { closed: true });
                // What the pool reports for a real batch: the worker's own time for it.
                admission.onServed?.(s.items.length, 5 * s.items.length);
                s.done();
              }
            }
            await settle();
            expect(h.b.pending).toBeLessThanOrEqual(4);
          }
          for (const s of h.sent) for (const i of s.items) expect(i.deadline).toBeGreaterThan(s.at);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('ranking queue: admission policies', () => {
  it("queue-time admits while the work ahead, at the workers' measured pace, fits in the target", async () => {
    const policy = new QueueTimeAdmission({ limit: 100, targetMs: 40, workers: 1 });
    policy.onServed(2, 20); // a worker served 2 requests in 20 ms of its own time: 10 ms each
    expect(policy.perRequestMs).toBe(10);
    expect(policy.predictedMs(3)).toBe(40); // three ahead and itself
    const h = harness({ admission: policy });
    h.add(); // runs at once
    // 1, 2 and 3 ahead: (ahead + 1) × 10 ms ≤ 40, admitted; 4 ahead and more: shed at arrival.
    for (let i = 0; i < 8; i++) h.add();
    await settle();
    expect(h.b.pending).toBe(3);
    expect(h.b.running).toBe(1);
    expect([...h.outcomes.values()].filter((o) => o === 'OverloadedError')).toHaveLength(5);
    expect(h.drops.admission).toBe(5);
    // Two workers clear the same work in half the time: twice as many are admitted.
    const two = new QueueTimeAdmission({ limit: 100, targetMs: 40, workers: 2 });
    two.onServed(2, 20);
    expect(two.admit({ now: 0, waiting: 6, running: 1 })).toBe(true);
    expect(two.admit({ now: 0, waiting: 7, running: 1 })).toBe(false);
  });

  it('queue-time weighs batches by size and forgets old ones', () => {
    const policy = new QueueTimeAdmission({ limit: 100, targetMs: 40, workers: 1, decay: 0.5 });
    policy.onServed(1, 10); // a lone request: 10 ms
    policy.onServed(16, 32); // a full batch: 2 ms each, and 16 requests' worth of evidence
    expect(policy.perRequestMs).toBeCloseTo((10 * 0.5 + 32) / (1 * 0.5 + 16), 10);
    for (let i = 0; i < 40; i++) policy.onServed(16, 80);
    expect(policy.perRequestMs).toBeCloseTo(5, 6);
    policy.onServed(0, 100); // a batch whose requests all expired in the worker: no evidence
    expect(policy.perRequestMs).toBeCloseTo(5, 6);
  });

  it('queue-time always admits into an empty system, so one slow batch cannot lock everyone out', async () => {
    const policy = new QueueTimeAdmission({ limit: 100, targetMs: 10, workers: 1 });
    policy.onServed(1, 10_000);
    expect(policy.admit({ now: 0, waiting: 0, running: 0 })).toBe(true);
    expect(policy.admit({ now: 0, waiting: 0, running: 1 })).toBe(false);
  });

  it("queue-time is fed the workers' service time by the real pool path (onServed), not this thread's wait", async () => {
    const policy = new QueueTimeAdmission({ limit: 100, targetMs: 40, workers: 1 });
    const h = harness({ admission: policy });
    h.add();
    // A batch that came back 500 ms after dispatch (a slow event loop) teaches it nothing by itself.
    h.clock.advance(500);
    h.sent[0]!.done();
    await settle();
    expect(policy.perRequestMs).toBeUndefined();
  });

  it('codel lets requests wait up to the interval while the queue empties, then only the target, newest first', async () => {
    const codel = new CoDelAdmission({ limit: 100, targetMs: 5, intervalMs: 100 }, 0);
    const h = harness({ admission: codel, maxBatch: 2 });
    h.add(); // occupies the only slot
    const x1 = h.add();
    h.clock.advance(50);
    const x2 = h.add();
    h.clock.advance(50); // x1 waited a whole interval: shed; x2 may still wait
    await settle();
    expect(h.outcomes.get(x1)).toBe('OverloadedError');
    expect(h.outcomes.has(x2)).toBe(false);
    h.clock.advance(1); // the queue has not been empty for more than 100 ms: congested
    expect(codel.lifo(h.clock.now())).toBe(true);
    expect(codel.maxWait(h.clock.now())).toBe(5);
    const older = h.add();
    h.clock.advance(1);
    const newer = h.add();
    h.clock.advance(1);
    await settle();
    expect(h.outcomes.get(x2)).toBe('OverloadedError'); // waited 51 ms > 5 ms
    expect(h.drops['max-wait']).toBe(2);
    h.sent[0]!.done();
    await settle();
    expect(h.sent[1]!.items.map((i) => i.id)).toEqual([newer, older]);
  });

  it('aimd raises its limit on fast batches and backs off on slow ones and on expired requests', () => {
    const aimd = new AimdAdmission({ limit: 1000, targetMs: 100, minLimit: 8, initial: 20 });
    expect(aimd.admit({ now: 0, waiting: 15, running: 4 })).toBe(true);
    expect(aimd.admit({ now: 0, waiting: 16, running: 4 })).toBe(false);
    aimd.onComplete(0, 4, 20, 50);
    expect(aimd.concurrencyLimit).toBe(21);
    aimd.onComplete(0, 4, 20, 150);
    expect(aimd.concurrencyLimit).toBe(18); // 21 × 0.9
    for (let i = 0; i < 40; i++) aimd.onExpired(0, 1);
    expect(aimd.concurrencyLimit).toBe(8);
  });

  it('every policy refuses beyond the hard queue limit', () => {
    for (const policy of ['queue-time', 'codel', 'aimd', 'fixed'] as const) {
      const p = createAdmission({ policy, limit: 5, targetMs: 1e6, slots: 1, minQueue: 1000 }, 0);
      expect(p.admit({ now: 0, waiting: 4, running: 0 }), policy).toBe(true);
      expect(p.admit({ now: 0, waiting: 5, running: 0 }), policy).toBe(false);
    }
  });

  it('sheds with OverloadedError (503) and expires with DeadlineExceededError (fallback)', () => {
    expect(new OverloadedError().retryAfterSeconds).toBe(1);
    expect(new DeadlineExceededError().name).toBe('DeadlineExceededError');
  });

  it('keeps the requests of one batch to one key (one model per batch)', async () => {
    const h = harness({ keyed: true, maxBatch: 4 });
    h.add(1000, 'control');
    const rest = [h.add(1000, 'test'), h.add(1000, 'control'), h.add(1000, 'test')];
    h.sent[0]!.done();
    await settle();
    expect(h.sent[1]!.items.map((i) => i.id)).toEqual([rest[0], rest[2]]);
    h.sent[1]!.done();
    await settle();
    expect(h.sent[2]!.items.map((i) => i.id)).toEqual([rest[1]]);
  });
});
