import { describe, expect, it } from 'vitest';
import { isConnectionError, retryWhileUnreachable } from '../../src/db/index.js';

const refused = () =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5499'), { code: 'ECONNREFUSED' });

/** A clock that only moves when the code under test waits. */
function fakeTime() {
  const t = { now: 0, waits: [] as number[] };
  return {
    t,
    now: () => t.now,
    sleep: async (ms: number) => {
      t.waits.push(ms);
      t.now += ms;
    },
  };
}

describe('retrying an unreachable database', () => {
  it('backs off exponentially up to 5 s and returns the first success', async () => {
    const clock = fakeTime();
    let calls = 0;
    const retried: number[] = [];
    const out = await retryWhileUnreachable(
      async () => {
        if (++calls <= 6) throw refused();
        return 'open';
      },
      { forMs: 60_000, ...clock, onRetry: (_e, attempt) => retried.push(attempt) },
    );
    expect(out).toBe('open');
    expect(clock.t.waits).toEqual([500, 1000, 2000, 4000, 5000, 5000]);
    expect(retried).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('gives up after forMs with the last error', async () => {
    const clock = fakeTime();
    const err = await retryWhileUnreachable(
      async () => {
        throw refused();
      },
      { forMs: 4_000, ...clock },
    ).catch((e: unknown) => e);
    expect((err as Error).message).toContain('ECONNREFUSED');
    expect(clock.t.waits).toEqual([500, 1000, 2000, 500]);
  });

  it('does not retry what waiting cannot fix (a wrong password)', async () => {
    const clock = fakeTime();
    let calls = 0;
    const auth = Object.assign(new Error('password authentication failed for user "x"'), { code: '28P01' });
    await expect(
      retryWhileUnreachable(
        async () => {
          calls++;
          throw auth;
        },
        { forMs: 60_000, ...clock },
      ),
    ).rejects.toBe(auth);
    expect(calls).toBe(1);
    expect(clock.t.waits).toEqual([]);
  });
});

describe('connection errors', () => {
  it('tells a lost or refused connection from a statement the server rejects', () => {
    expect(isConnectionError(refused())).toBe(true);
    expect(isConnectionError(Object.assign(new Error('terminating connection'), { code: '57P01' }))).toBe(
      true,
    );
    expect(isConnectionError(Object.assign(new Error('canceling statement'), { code: '57014' }))).toBe(true);
    expect(isConnectionError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isConnectionError(new Error('wrapped', { cause: refused() }))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('out of range'), { code: '22003' }))).toBe(false);
    expect(isConnectionError(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
    expect(isConnectionError(new TypeError('x is not a function'))).toBe(false);
  });
});
