// A refused client is told to come back after Retry-After. One that sends its next request on the
// same connection at once (a closed-loop client, a retry loop, an open-loop generator reusing
// the connection for the next arrival) turns each refusal into another request to parse and
// refuse: under overload with 1,024 such connections the refusals alone took about 9,300
// requests/s of this thread and the client's CPU, and the model workers, which share the cores,
// got less than half of what they had at 64 connections (bench/results/overload*.md).
//
// So a refused connection is held: not read, its next request waiting in the kernel's socket
// buffer at no CPU cost, until the queue has room again (the oldest held connections first, a
// few per tick) or, at the latest, until the refusal's Retry-After has passed (then the next
// request is read at once: a client that honours Retry-After meets no hold, or one tick of it).
// The refusal itself still goes out at once. Releasing on room matters: in a first version,
// held connections waited out the whole Retry-After, came back in bursts and left the queue empty
// in between; a 3x-capacity open loop then kept 50-55 % of capacity against 80-92 % without holds,
// and with release on room 87-92 % (bench/results/overload-1.md, overload-2.md). It is TCP flow
// control for connections under a Retry-After.
//
// holdOn "repeat" holds only a connection refused again before its previous refusal's
// Retry-After had passed (the first refusal is read past): that was the rule until the open loop
// at 3x capacity showed each connection then cost two refusals per hold, both paid for by the
// client and this thread in CPU the workers lacked. Holding from the first refusal cut the
// refusals there by 18-43 % and gave the workers 2-4 points of a core more in three paired runs
// (bench/results/overload-12.md, -13, -14); the model-ranked answers, as a share of each
// service's capacity, moved by less than the machine's noise (88/108/79 % against 99/94/76 %),
// and over all runs with the same load generator the median was 99 % against 83 % (README).
// "repeat" remains for a balancer in
// front that multiplexes many users over few connections and would rather see a quick 503 than
// a paused connection.

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
  /** Hold every refused connection (default), or only one refused again within holdMs. */
  holdOn?: 'refusal' | 'repeat';
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
    if (this.opts.holdOn === 'repeat') {
      const previous = this.lastRefused.get(conn);
      this.lastRefused.set(conn, now);
      if (previous === undefined || now - previous >= holdMs) return false;
    }
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
