// A keep-alive HTTP/1.1 connection that sends one GET at a time and reads back only what the load
// generator records: the status, one header (X-Model-Version) and the end of the body. The open
// loop at 3x capacity sends thousands of requests a second from the two cores the service runs
// on, and every microsecond the generator spends per request is taken from the service's
// workers; general clients (node:http, undici) build header objects, timers and request state
// the generator never reads. Responses with Content-Length or chunked bodies are read; anything
// else that is not HTTP/1.x fails the request as an error, never as an answer.
import net from 'node:net';

export interface RawAnswer {
  status: number;
  /** The value of the one header asked for (lower-case name), if the answer had it. */
  header?: string;
}

export interface RawHttpOptions {
  host: string;
  port: number;
  /** Lower-case name of the header whose value each answer reports. */
  header: string;
  /** The request fails with a timeout when no full answer arrived within it (ms). */
  timeoutMs: number;
}

type Done = (err: Error | undefined, answer?: RawAnswer) => void;

const CRLFCRLF = Buffer.from('\r\n\r\n');
const CHUNKED_END = Buffer.from('0\r\n\r\n');

export class RawHttpConnection {
  private socket?: net.Socket;
  private buf: Buffer = Buffer.alloc(0);
  private done?: Done;
  private timer?: NodeJS.Timeout;
  /** Parsed head of the answer being read, once its headers are complete. */
  private head?: { status: number; header?: string; bodyStart: number; length: number | 'chunked' };
  private closeAfter = false;
  private readonly hostHeader: string;

  constructor(private readonly opts: RawHttpOptions) {
    this.hostHeader = `Host: ${opts.host}:${opts.port}\r\n\r\n`;
  }

  /** True while a request is out and its answer not yet read. */
  get busy(): boolean {
    return this.done !== undefined;
  }

  get(path: string, done: Done): void {
    if (this.done) throw new Error('RawHttpConnection: one request at a time');
    this.done = done;
    if (!this.socket || this.socket.destroyed || this.closeAfter) this.connect();
    this.timer = setTimeout(() => this.fail(new Error('timeout')), this.opts.timeoutMs);
    this.socket!.write(`GET ${path} HTTP/1.1\r\n${this.hostHeader}`, 'latin1');
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private connect(): void {
    this.socket?.destroy();
    this.buf = Buffer.alloc(0);
    this.head = undefined;
    this.closeAfter = false;
    const s = net.connect({ host: this.opts.host, port: this.opts.port, noDelay: true });
    // A socket this connection has given up (destroyed after an error, a timeout or a
    // Connection: close) may still emit: its events must not touch the request that follows.
    s.on('data', (chunk: Buffer) => {
      if (this.socket === s) this.onData(chunk);
    });
    s.on('error', (err) => {
      if (this.socket === s) this.fail(err);
    });
    s.on('close', () => {
      if (this.socket !== s) return;
      this.socket = undefined;
      this.fail(new Error('connection closed before the answer was complete'));
    });
    this.socket = s;
  }

  private onData(chunk: Buffer): void {
    if (!this.done) {
      // Bytes nobody asked for (one request at a time): the connection can no longer be trusted.
      this.close();
      return;
    }
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    if (!this.head && !this.parseHead()) return;
    const h = this.head!;
    const body = this.buf.length - h.bodyStart;
    const complete =
      h.length === 'chunked'
        ? body >= CHUNKED_END.length &&
          this.buf.subarray(this.buf.length - CHUNKED_END.length).equals(CHUNKED_END)
        : body >= h.length;
    if (!complete) return;
    if (h.length !== 'chunked' && body > h.length) {
      this.fail(new Error(`${body - h.length} bytes after the answer's body`));
      return;
    }
    this.finish(undefined, { status: h.status, ...(h.header === undefined ? {} : { header: h.header }) });
  }

  /** Reads the status line and headers once they are complete; false while they are not. */
  private parseHead(): boolean {
    const end = this.buf.indexOf(CRLFCRLF);
    if (end < 0) {
      if (this.buf.length > 64 * 1024) this.fail(new Error('answer headers longer than 64 KB'));
      return false;
    }
    const lines = this.buf.toString('latin1', 0, end).split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!);
    if (!m) {
      this.fail(new Error(`not an HTTP/1.x status line: ${JSON.stringify(lines[0]!.slice(0, 80))}`));
      return false;
    }
    let length: number | 'chunked' | undefined;
    let header: string | undefined;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') length = Number(value);
      else if (name === 'transfer-encoding' && /chunked/i.test(value)) length = 'chunked';
      else if (name === 'connection' && /close/i.test(value)) this.closeAfter = true;
      else if (name === this.opts.header) header = value;
    }
    if (length === undefined || (length !== 'chunked' && !(length >= 0))) {
      this.fail(new Error('answer without a usable Content-Length or chunked body'));
      return false;
    }
    this.head = { status: Number(m[1]), header, bodyStart: end + CRLFCRLF.length, length };
    return true;
  }

  private finish(err: Error | undefined, answer?: RawAnswer): void {
    const done = this.done;
    if (!done) return;
    clearTimeout(this.timer);
    this.done = undefined;
    this.head = undefined;
    this.buf = Buffer.alloc(0);
    if (err || this.closeAfter) this.close();
    done(err, answer);
  }

  private fail(err: Error): void {
    this.finish(err);
  }
}
