import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawHttpConnection, type RawAnswer } from '../../bench/raw-http.js';

const get = (c: RawHttpConnection, path: string) =>
  new Promise<RawAnswer>((resolve, reject) => c.get(path, (err, a) => (err ? reject(err) : resolve(a!))));

describe('raw HTTP connection of the open-loop generator', () => {
  let server: http.Server;
  let port: number;
  const sockets = new Set<net.Socket>();
  let connections = 0;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const url = req.url ?? '';
      if (url.startsWith('/len')) {
        const body = JSON.stringify({ path: url, pad: 'x'.repeat(3000) });
        res.writeHead(200, { 'Content-Type': 'application/json', 'X-Model-Version': 'test/v2' });
        res.end(body);
      } else if (url === '/shed') {
        res.writeHead(503, { 'Retry-After': '1', 'Content-Length': 2 });
        res.end('{}');
      } else if (url === '/chunked') {
        res.writeHead(200, { 'X-Model-Version': 'fallback-popular' });
        res.write('[1,');
        setTimeout(() => res.end('2]'), 20);
      } else if (url === '/split') {
        // The head and the body arrive in separate reads.
        res.writeHead(404, { 'Content-Length': 7 });
        res.flushHeaders();
        setTimeout(() => res.end('missing'), 20);
      } else if (url === '/close') {
        res.writeHead(200, { Connection: 'close', 'Content-Length': 2, 'X-Model-Version': 'm/1' });
        res.end('ok');
      } else if (url === '/drop') {
        req.socket.destroy();
      } else if (url === '/never') {
        // no answer at all
      } else {
        res.writeHead(500, { 'Content-Length': 0 });
        res.end();
      }
    });
    server.on('connection', (s) => {
      connections += 1;
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });

  const conn = (timeoutMs = 2000) =>
    new RawHttpConnection({ host: '127.0.0.1', port, header: 'x-model-version', timeoutMs });

  it('reads status and the asked-for header, and keeps one connection alive across requests', async () => {
    const c = conn();
    const before = connections;
    expect(await get(c, '/len?id=1')).toEqual({ status: 200, header: 'test/v2' });
    expect(await get(c, '/shed')).toEqual({ status: 503 });
    expect(await get(c, '/len?id=2')).toEqual({ status: 200, header: 'test/v2' });
    expect(connections - before).toBe(1);
    c.close();
  });

  it('reads chunked bodies and heads and bodies that arrive apart', async () => {
    const c = conn();
    expect(await get(c, '/chunked')).toEqual({ status: 200, header: 'fallback-popular' });
    expect(await get(c, '/split')).toEqual({ status: 404 });
    // Still in step with the server: the next answer is the next request's.
    expect(await get(c, '/len')).toEqual({ status: 200, header: 'test/v2' });
    c.close();
  });

  it('opens a new connection after an answer with Connection: close', async () => {
    const c = conn();
    const before = connections;
    expect(await get(c, '/close')).toEqual({ status: 200, header: 'm/1' });
    expect(await get(c, '/len')).toEqual({ status: 200, header: 'test/v2' });
    expect(connections - before).toBe(2);
    c.close();
  });

  it('fails a request whose connection is dropped, and the next request works on a new one', async () => {
    const c = conn();
    await expect(get(c, '/drop')).rejects.toThrow(/closed before the answer/);
    expect(c.busy).toBe(false);
    expect(await get(c, '/len')).toEqual({ status: 200, header: 'test/v2' });
    c.close();
  });

  it('fails a request with a timeout when no answer comes, without spilling into the next request', async () => {
    const c = conn(100);
    await expect(get(c, '/never')).rejects.toThrow(/timeout/);
    expect(await get(c, '/len')).toEqual({ status: 200, header: 'test/v2' });
    c.close();
  });

  it('takes one request at a time', async () => {
    const c = conn();
    const first = get(c, '/len');
    expect(() => c.get('/len', () => undefined)).toThrow(/one request at a time/);
    await first;
    c.close();
  });

  it('fails answers that are not HTTP/1.x or have no usable length', async () => {
    const bad = net.createServer((s) => {
      s.once('data', (d) => {
        if (d.toString().startsWith('GET /garbage')) s.write('SSH-2.0-OpenSSH\r\n\r\n');
        else s.write('HTTP/1.1 200 OK\r\nX-Model-Version: m\r\n\r\nbody');
      });
    });
    await new Promise<void>((r) => bad.listen(0, '127.0.0.1', r));
    const badPort = (bad.address() as AddressInfo).port;
    const c = new RawHttpConnection({
      host: '127.0.0.1',
      port: badPort,
      header: 'x-model-version',
      timeoutMs: 2000,
    });
    await expect(get(c, '/garbage')).rejects.toThrow(/not an HTTP\/1.x status line: "SSH-2.0/);
    await expect(get(c, '/nolength')).rejects.toThrow(/Content-Length or chunked/);
    c.close();
    await new Promise((r) => bad.close(r));
  });
});
