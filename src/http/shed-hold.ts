// A refused client is told to come back after Retry-After. One that sends its next request on the
// same connection at once (a closed-loop client, a retry loop) turns each refusal into another
// request to parse and refuse: under overload with 1,024 such connections the refusals alone took
// about 9,300 requests/s of this thread and the client's CPU, and the model workers, which share
// the cores, got less than half of what they had at 64 connections (bench/results/overload*.md).
// So a connection refused again before the Retry-After of its previous refusal has passed is not
// read until this refusal's Retry-After has: the refusal itself still goes out at once, a client
// that honours Retry-After never meets the hold, and a held request waits in the kernel's socket
// buffer, costing no CPU, instead of being read and refused again. It is TCP flow control applied
// to the connections that asked for it; other connections are read as before.

/** The part of a socket the hold uses (net.Socket has it). */
export interface Holdable {
  pause(): unknown;
  resume(): unknown;
  readonly destroyed: boolean;
}

export interface HoldClock {
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
}

const systemHoldClock: HoldClock = {
  now: () => performance.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms).unref(),
};

export interface ShedHoldOptions {
  /** How long after a refusal its Retry-After asks the client to wait (ms); 0 turns holds off. */
  holdMs: number;
  clock?: HoldClock;
  /** Told when a hold begins (true) and ends (false), e.g. for a gauge of held connections. */
  onHold?: (held: boolean) => void;
}

export class ShedHold {
  private readonly lastRefused = new WeakMap<Holdable, number>();
  private readonly clock: HoldClock;
  private heldNow = 0;

  constructor(private readonly opts: ShedHoldOptions) {
    this.clock = opts.clock ?? systemHoldClock;
  }

  /** False when holds are turned off (holdMs 0): callers can skip the bookkeeping. */
  get enabled(): boolean {
    return this.opts.holdMs > 0;
  }

  /** Connections not being read now because of a hold. */
  get held(): number {
    return this.heldNow;
  }

  /**
   * Call once the refusal on `conn` has been written (the response's 'finish': Node's HTTP server
   * resumes reading the socket when it ends a response, which would undo an earlier pause).
   * Returns whether the connection is now held.
   */
  refused(conn: Holdable): boolean {
    const { holdMs } = this.opts;
    if (!(holdMs > 0) || conn.destroyed) return false;
    const now = this.clock.now();
    const previous = this.lastRefused.get(conn);
    this.lastRefused.set(conn, now);
    if (previous === undefined || now - previous >= holdMs) return false;
    conn.pause();
    this.heldNow += 1;
    this.opts.onHold?.(true);
    this.clock.setTimer(() => {
      this.heldNow -= 1;
      this.opts.onHold?.(false);
      // A closed connection needs nothing; resuming it would be harmless but pointless.
      if (!conn.destroyed) conn.resume();
    }, holdMs);
    return true;
  }
}
