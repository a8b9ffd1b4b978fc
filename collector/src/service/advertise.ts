/**
 * The URL the other collectors of a shared store forward lease requests to when this one owns
 * budget leases, unless TOKENLEDGER_ADVERTISE_URL says otherwise: the address it listens on, or —
 * listening on every interface — this machine's first non-loopback IPv4 address (a pod's IP).
 */
import { networkInterfaces } from 'node:os';

export function advertisedUrl(host: string, port: number): string {
  let address = host;
  if (host === '0.0.0.0' || host === '::') {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((i) => i !== undefined && i.family === 'IPv4' && !i.internal);
    address = external?.address ?? '127.0.0.1';
  }
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
}
