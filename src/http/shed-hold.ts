// A refused client is told to come back after Retry-After. One that sends its next request on the
// same connection at once (a closed-loop client, a retry loop) turns each refusal into another
// request to parse and refuse: under overload with 1,024 such connections the refusals alone took
// about 9,300 requests/s of this thread and the client's CPU, and the model workers, which share
// the cores, got less than half of what they had at 64 connections (bench/results/overload*.md).
//
// So a connection refused again before the Retry-After of its previous refusal has passed is held:
// not read, its next request waiting in the kernel's socket buffer at no CPU cost, until the queue
// has room again (the oldest held connections first, a few per tick) or, at the latest, until
// this refusal's Retry-After has passed. The refusal itself still goes out at once, and a client
// that honours Retry-After never meets a hold. Releasing on room matters: in a first version,
// held connections waited out the whole Retry-After, came back in bursts and left the queue empty
// in between; a 3x-capacity open loop (many connections, each sending whenever it is free) then
// kept 50-55 % of capacity against 80-92 % without holds, and with release on room 87-92 %
// (bench/results/overload-1.md, overload-2.md). It is TCP flow control for the connections that
// asked for it; every other connection is read as before.

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
  /** Would the queue take a request now? Held connections are released while it would. */
  hasRoom: () => boolean;
  /** How often held connections are looked at while any are held (ms). */
  tickMs?: number;
  /** Most connections released per tick for room (a released one sends its request then). */
  releasePerTick?: number;
  clock?: HoldClock;
  /** Told when a hold begins (true) and ends (false), e.g. for a gauge of held connections. */
  onHold?: (held: boolean) => void;
}

interface Held {
  conn: Holdable;
  until: number;
}

export class ShedHold {
  private readonly lastRefused = new WeakMap<Holdable, number>();
  private readonly clock: HoldClock;
  /** Oldest first; with one holdMs for all, `until` grows along it too. */
  private queue: Held[] = [];
  private head = 0;

  constructor(private readonly opts: ShedHoldOptions) {
    this.clock = opts.clock ?? systemHoldClock;
  }

  /** False when holds are turned off (holdMs 0): callers can skip the bookkeeping. */
  get enabled(): boolean {
    return this.opts.holdMs > 0;
  }

  /** Connections held now (a closed one counts until the next tick notices). */
  get held(): number {
    return this.queue.length - this.head;
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
    // A tick is pending exactly while something is held: start one with the first hold.
    if (this.held === 0) this.clock.setTimer(() => this.tick(), this.opts.tickMs ?? 5);
    this.queue.push({ conn, until: now + holdMs });
    this.opts.onHold?.(true);
    return true;
  }

  private tick(): void {
    const now = this.clock.now();
    let room = this.opts.hasRoom() ? (this.opts.releasePerTick ?? 16) : 0;
    while (this.head < this.queue.length) {
      const h = this.queue[this.head]!;
      if (h.conn.destroyed) this.release(h, false);
      else if (h.until <= now) this.release(h, true);
      else if (room > 0) {
        room -= 1;
        this.release(h, true);
      } else break;
    }
    // Compact now and then, so a long overload does not grow the array without bound.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (this.held > 0) this.clock.setTimer(() => this.tick(), this.opts.tickMs ?? 5);
  }

  private release(h: Held, resume: boolean): void {
    this.head += 1;
    this.opts.onHold?.(false);
    if (resume) h.conn.resume();
  }
}
