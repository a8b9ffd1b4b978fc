/**
 * The SDK's side of a lease across several collectors (decision 0069), against a local HTTP server
 * that answers as collectors do: a slice is spent at most its TTL (`expires_in_seconds`) after the
 * request that last renewed it, and an `owner_pending` answer (the lease owner is changing) is busy
 * without touching the slice, which stays usable until it expires.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LeaseHolder } from '../../instrumentation/src/guard/lease';
import type { LeaseResponse } from '../../instrumentation/src/wire';

const PICO_PER_USD = 1_000_000_000_000n;
const usd = (text: string): bigint => BigInt(Math.round(Number(text) * 1e6)) * (PICO_PER_USD / 1_000_000n);

function answer(over: Partial<LeaseResponse>): LeaseResponse {
  return {
    granted_usd: '0',
    lease_id: 'lease_1',
    expires_at: new Date().toISOString(),
    total_granted_usd: '0',
    unleased_usd: '0',
    holders: 1,
    spent_usd: '0.01',
    limit_usd: '1',
    state: 'ok',
    contended: false,
    ...over,
  };
}

/**
 * Serves the lease endpoint with `onRequest(res)` for the enclosing describe, TOKENLEDGER_URL
 * pointing at it (the body is read first).
 */
function collectorStandIn(onRequest: (res: ServerResponse) => void): void {
  let server: Server;
  let saved: string | undefined;
  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        onRequest(res);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    saved = process.env.TOKENLEDGER_URL;
    process.env.TOKENLEDGER_URL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    if (saved === undefined) delete process.env.TOKENLEDGER_URL;
    else process.env.TOKENLEDGER_URL = saved;
    server.close();
  });
}

describe('guard lease holder across collectors: slices expire, owner_pending keeps them', function () {
  const answers: LeaseResponse[] = [];
  collectorStandIn((res) =>
    res.end(JSON.stringify(answers.shift() ?? answer({ owner_pending: true, lease_id: '', state: 'busy' }))),
  );

  it('spends a slice until its TTL after the renewing request, not after', async () => {
    const lease = new LeaseHolder('p', '2026-12-01T00:00:00.000Z', 'h');
    const sent = Date.now();
    answers.push(answer({ granted_usd: '0.1', total_granted_usd: '0.1', expires_in_seconds: 2 }));
    await lease.request(usd('0.1'));
    assert.equal(lease.availablePico(), usd('0.1'));
    // The TTL runs from when the request was sent (at or after `sent`; well before `sent` + 1 s).
    assert.ok(lease.tryReserve(usd('0.01'), sent + 1_500), 'a call is covered while the lease holds');
    assert.equal(lease.tryReserve(usd('0.01'), sent + 3_000), undefined, 'none once its TTL has passed');
    assert.equal(lease.availablePico(sent + 3_000), 0n);
  });

  it('an owner_pending answer is busy and keeps the slice (and its expiry) as it was', async () => {
    const lease = new LeaseHolder('p', '2026-12-01T00:00:00.000Z', 'h');
    const sent = Date.now();
    answers.push(answer({ granted_usd: '0.1', total_granted_usd: '0.1', expires_in_seconds: 60 }));
    await lease.request(usd('0.1'));
    answers.push(
      answer({ owner_pending: true, lease_id: '', state: 'busy', retry_after_seconds: 7, spent_usd: '0.5' }),
    );
    await lease.request(0n, usd('0.2'));
    assert.equal(lease.leaseId, 'lease_1');
    assert.equal(lease.availablePico(), usd('0.1'), 'nothing given back, nothing dropped');
    assert.deepEqual(lease.lastAnswer, { state: 'busy', spentPico: usd('0.5'), retryAfterSeconds: 7 });
    assert.ok(lease.tryReserve(usd('0.05'), Date.now()));
    assert.equal(lease.tryReserve(usd('0.01'), sent + 61_000), undefined);
  });
});

describe('guard lease holder on a collector slower than the calls', function () {
  let requests = 0;
  let release: (() => void) | undefined;
  collectorStandIn((res) => {
    const send = (): void => void res.end(JSON.stringify(answer({ state: 'busy', retry_after_seconds: 1 })));
    // The first ask is answered only when the test says so (a collector that takes its time).
    if (++requests === 1) release = send;
    else send();
  });

  it('asks nothing more for calls that stopped waiting while an ask was in flight (decision 0094)', async () => {
    const lease = new LeaseHolder('p', '2026-12-01T00:00:00.000Z', 'h');
    const waitingCall = lease.obtain(usd('0.01'), usd('0.08'), Date.now() + 60_000);
    while (release === undefined) await new Promise((r) => setTimeout(r, 5));
    // 50 calls came and went (each waited its bound, was refused busy, and will retry) while the
    // first ask was in flight: none of them is asked for afterwards.
    const goneCalls = Array.from({ length: 50 }, () =>
      lease.obtain(usd('0.01'), usd('0.08'), Date.now() - 1),
    );
    release();
    assert.equal(await waitingCall, 'refused');
    assert.deepEqual(new Set(await Promise.all(goneCalls)), new Set(['refused']));
    assert.equal(requests, 1, 'one ask, for the call that waited');
    // A call that still waits is asked for.
    assert.equal(await lease.obtain(usd('0.01'), usd('0.08'), Date.now() + 60_000), 'refused');
    assert.equal(requests, 2);
  });
});
