/**
 * A lease request forwarded to the collector that owns budget leases (decision 0069), with the
 * app's own Authorization header: every collector of a store serves the same keys, so the owner
 * checks the key and files the lease under its name as if the app had asked it directly.
 */

/** Marks a forwarded request: the receiver never forwards it again. */
export const FORWARDED_HEADER = 'x-tokenledger-forwarded';

/** Shorter than the guard's own deadline (5 s), so the app gets a standby answer, not a timeout. */
const FORWARD_TIMEOUT_MS = 4_000;

export interface ForwardedAnswer {
  status: number;
  body: unknown;
}

/** The owner's answer, or undefined when it gave none (down, unreachable, too slow). Never throws. */
export async function forwardToOwner(
  ownerUrl: string,
  method: 'POST' | 'DELETE',
  path: string,
  authorization: string | undefined,
  body?: unknown,
): Promise<ForwardedAnswer | undefined> {
  try {
    const headers: Record<string, string> = { [FORWARDED_HEADER]: '1', accept: 'application/json' };
    if (authorization) headers.authorization = authorization;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(new URL(path, ownerUrl), {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
    });
    const text = await res.text();
    return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
  } catch {
    return undefined;
  }
}
