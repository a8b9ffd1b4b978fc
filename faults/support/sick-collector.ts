/**
 * Stand-ins for a collector in trouble, as an instrumented app meets it: nothing listening (down),
 * connections accepted and never answered (hanging), every request answered 500 (broken), or 503 +
 * Retry-After (shedding: a full disk, storage away). Each counts what the app sent it.
 */
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';

export type CollectorFault = 'down' | 'hanging' | 'answering 500' | 'answering 503';

export interface SickCollector {
  fault: CollectorFault;
  url: string;
  /** Connections (hanging) or requests (answering) received; 0 when down. */
  received(): number;
  close(): Promise<void>;
}

const listening = (server: net.Server): Promise<number> =>
  new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );

const closing = (server: net.Server): Promise<void> =>
  new Promise((resolve) => server.close(() => resolve()));

export async function startSickCollector(fault: CollectorFault): Promise<SickCollector> {
  if (fault === 'down') {
    // A port that was just free: connecting to it is refused.
    const probe = net.createServer();
    const port = await listening(probe);
    await closing(probe);
    return { fault, url: `http://127.0.0.1:${port}`, received: () => 0, close: async () => undefined };
  }
  if (fault === 'hanging') {
    const held = new Set<net.Socket>();
    let connections = 0;
    const server = net.createServer((socket) => {
      connections++;
      held.add(socket);
      socket.on('close', () => held.delete(socket));
      socket.on('error', () => undefined);
      socket.resume(); // read what is sent, say nothing
    });
    const port = await listening(server);
    return {
      fault,
      url: `http://127.0.0.1:${port}`,
      received: () => connections,
      close: async () => {
        for (const socket of held) socket.destroy();
        await closing(server);
      },
    };
  }
  const status = fault === 'answering 500' ? 500 : 503;
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    req.resume();
    req.on('end', () => {
      const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json' };
      if (status === 503) headers['retry-after'] = '10'; // what a collector short of disk answers
      res.writeHead(status, headers).end(JSON.stringify({ error: `fault suite: ${fault}` }));
    });
  });
  const port = await listening(server);
  return {
    fault,
    url: `http://127.0.0.1:${port}`,
    received: () => requests,
    close: async () => {
      server.closeAllConnections();
      await closing(server);
    },
  };
}
