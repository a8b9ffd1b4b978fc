/**
 * A stand-in address for the collector that tests can turn slow, silent or shut: it forwards every
 * request to the collector after `delayMs`, or (`hang`) accepts it and never answers, or (`drop`)
 * closes the connection without an answer — a collector that is overloaded, hung or going down, at
 * the same URL the apps already used. It notes every request it
 * received (`seen`), and `alterJson` may change the collector's JSON answers on their way back.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CollectorProxy {
  url: string;
  /** Delay before forwarding each request (ms). */
  delayMs: number;
  /** Accept requests and never answer them. */
  hang: boolean;
  /** Close each connection as its request arrives, without an answer. */
  drop: boolean;
  /** Every request received: method, path, when (ms since the epoch). */
  seen: Array<{ method: string; path: string; at: number }>;
  /** Changes a JSON answer of the collector to a request for `path` before it is passed on. */
  alterJson?: (path: string, body: Record<string, unknown>) => Record<string, unknown>;
  close(): Promise<void>;
}

export async function startCollectorProxy(target: string): Promise<CollectorProxy> {
  const held = new Set<http.ServerResponse>();
  const proxy: CollectorProxy = {
    url: '',
    delayMs: 0,
    hang: false,
    drop: false,
    seen: [],
    close: async () => {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    const path = new URL(req.url ?? '/', target).pathname;
    proxy.seen.push({ method: req.method ?? '', path, at: Date.now() });
    if (proxy.drop) {
      req.socket.destroy();
      return;
    }
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (proxy.hang) {
        held.add(res);
        return;
      }
      setTimeout(() => {
        const upstream = http.request(
          new URL(req.url ?? '/', target),
          { method: req.method, headers: { ...req.headers, host: new URL(target).host } },
          (up) => {
            const alter = proxy.alterJson;
            if (!alter || !String(up.headers['content-type']).startsWith('application/json')) {
              res.writeHead(up.statusCode ?? 502, up.headers);
              up.pipe(res);
              return;
            }
            const body: Buffer[] = [];
            up.on('data', (c: Buffer) => body.push(c));
            up.on('end', () => {
              const json = JSON.stringify(alter(path, JSON.parse(Buffer.concat(body).toString()) as never));
              const { 'content-length': _length, 'transfer-encoding': _encoding, ...headers } = up.headers;
              res.writeHead(up.statusCode ?? 502, { ...headers, 'content-length': Buffer.byteLength(json) });
              res.end(json);
            });
          },
        );
        upstream.on('error', () => res.destroy());
        upstream.end(Buffer.concat(chunks));
      }, proxy.delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}
