/**
 * A TCP server that accepts connections and never says a word: a collector that hangs, a mail
 * server that never greets. `close()` drops the connections it holds.
 */
import net, { type AddressInfo } from 'node:net';

export interface SilentServer {
  port: number;
  close(): Promise<void>;
}

export async function startSilentServer(): Promise<SilentServer> {
  const held: net.Socket[] = [];
  const server = net.createServer((socket) => held.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
