/**
 * A stand-in address for the collector that tests can turn slow or silent: it forwards every
 * request to the collector after `delayMs`, or (`hang`) accepts it and never answers — a collector
 * that is overloaded or hung, at the same URL the apps already used.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CollectorProxy {
  url: string;
  /** Delay before forwarding each request (ms). */
  delayMs: number;
  /** Accept requests and never answer them. */
  hang: boolean;
  close(): Promise<void>;
}

export async function startCollectorProxy(target: string): Promise<CollectorProxy> {
  const held = new Set<http.ServerResponse>();
  const proxy: CollectorProxy = {
    url: '',
    delayMs: 0,
    hang: false,
    close: async () => {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
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
            res.writeHead(up.statusCode ?? 502, up.headers);
            up.pipe(res);
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
