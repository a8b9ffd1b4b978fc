/**
 * The budget-lease owner election (decision 0069) on the real engine: several elections (one per
 * "collector") on one store, each with its own clock that the test moves. One owner per round
 * whoever claims first; the owner keeps it; a new owner grants only once the old owner's leases have
 * expired; the owner stops granting the moment its round ends without a renewed claim; and a
 * LeaseBook whose collector lost ownership while it read the spend grants nothing.
 */
import assert from 'node:assert/strict';
import type { Storage } from '../../collector/src/storage/client';
import {
  LeaseOwnerElection,
  SKEW_MS,
  SPANS_IN_FLIGHT_MS,
  type LeaseOwnerView,
} from '../../collector/src/govern/budgets/lease-owner';
import { LeaseBook, type LeaseBudgetSource } from '../../collector/src/govern/budgets/leases';
import { Money } from '../../collector/src/core/money';
import { freshStorage } from '../support/embedded-storage';

const TTL = 20_000;
/** roundMsFor(20 s): 5 s rounds. */
const ROUND = 5_000;
/** The start of the current round (claims older than the table's TTL would be merged away). */
const R0 = Math.floor(Date.now() / ROUND);
const T0 = R0 * ROUND;

function collector(storage: Storage, clock: { now: number }, name: string): LeaseOwnerElection {
  return new LeaseOwnerElection({
    storage,
    advertiseUrl: `http://${name}:4318`,
    leaseTtlMs: TTL,
    now: () => clock.now,
  });
}

const roles = (es: LeaseOwnerElection[], now: number): string[] =>
  es.map((e) => {
    const v: LeaseOwnerView = e.view(now);
    return v.role === 'forward' ? `forward ${v.url}` : v.role;
  });

describe('budget lease owner election (one owner across collectors, by deduplicated claims)', function () {
  this.timeout(60_000);
  let storage: Storage;

  beforeEach(async () => {
    storage = await freshStorage();
  });
  afterEach(async () => {
    await storage.close();
  });

  it('one owner per round even when all claim at once; the others forward to its URL; the owner keeps it', async () => {
    const clock = { now: T0 + 100 };
    const es = ['a', 'b', 'c'].map((n) => collector(storage, clock, n));
    assert.equal(es[0]!.roundMs, ROUND);
    // An empty store: nobody owned the round before, so each claims at once, concurrently.
    await Promise.all(es.map((e) => e.tick()));
    // The winner proves no older owner's leases are out with a read made SKEW_MS into its tenure.
    clock.now += SKEW_MS;
    await Promise.all(es.map((e) => e.tick()));
    const now = roles(es, clock.now);
    assert.equal(now.filter((r) => r === 'owner').length, 1, now.join(', '));
    const owner = now.indexOf('owner');
    const url = `forward http://${'abc'[owner]}:4318`;
    assert.deepEqual(
      now.filter((_, i) => i !== owner),
      [url, url],
    );
    // Twenty rounds later, every collector ticking every second: still the same owner, no gap.
    for (let s = 0; s < 100; s++) {
      clock.now += 1_000;
      for (const e of es) await e.tick();
      assert.deepEqual(roles(es, clock.now), now, `after ${s + 1} s`);
    }
  });

  it("a new owner grants nothing until the dead owner's leases expired; the old one stops at once", async () => {
    const clock = { now: T0 + 100 };
    const a = collector(storage, clock, 'a');
    const b = collector(storage, clock, 'b');
    await a.tick();
    clock.now += SKEW_MS;
    await a.tick();
    await b.tick();
    assert.deepEqual(roles([a, b], clock.now), ['owner', 'forward http://a:4318']);
    // A claims the next round from the middle of this one, then dies (stops ticking).
    clock.now = T0 + ROUND / 2 + 10;
    await a.tick();
    await b.tick();
    const lastRoundOfA = R0 + 1;
    // A's claims end with its round; A grants in it, and not a millisecond after (no claim beyond).
    assert.equal(a.view(T0 + 2 * ROUND - 1).role, 'owner');
    assert.equal(a.view(T0 + 2 * ROUND).role, 'unknown');
    // B takes the round after A's last once it is half over, then waits out A's leases.
    const takeover = (lastRoundOfA + 1) * ROUND;
    clock.now = takeover + 1;
    await b.tick();
    assert.equal(b.view(clock.now).role, 'unknown', 'B does not claim before the round is half over');
    clock.now = takeover + ROUND / 2 + 1;
    await b.tick();
    const waiting = b.view(clock.now);
    assert.equal(waiting.role, 'waiting');
    const grantFrom = takeover + TTL + SKEW_MS + SPANS_IN_FLIGHT_MS;
    for (; clock.now < grantFrom + 2_000; clock.now += 1_000) {
      await b.tick();
      const v = b.view(clock.now);
      assert.equal(v.role, clock.now >= grantFrom ? 'owner' : 'waiting', `at +${clock.now - takeover} ms`);
      if (v.role === 'waiting') assert.ok(v.until >= grantFrom - 1, `until ${v.until} < ${grantFrom}`);
    }
    // A comes back (a long pause, not a crash): it reads B's claims and forwards to B.
    await a.tick();
    assert.deepEqual(roles([a, b], clock.now), ['forward http://b:4318', 'owner']);
  });

  it('a lease book grants nothing once its collector no longer owns the round (lost while reading the spend)', async () => {
    let owner = true;
    let release: () => void = () => undefined;
    const slow = new Promise<void>((r) => (release = r));
    const period = new Date(Date.UTC(2026, 11, 1));
    const source: LeaseBudgetSource = {
      limitUsd: () => new Money('10'),
      matchOf: () => ({}),
      window: () => ({
        period: 'monthly',
        timezone: 'UTC',
        start: period,
        end: new Date(Date.UTC(2027, 0, 1)),
      }),
      spendFigure: async () => {
        await slow;
        return { usd: new Money('1'), asOf: Date.now() };
      },
    };
    const book = new LeaseBook(source, {
      authority: { view: () => (owner ? { role: 'owner' } : { role: 'unknown' }) },
    });
    const pending = book.grant({
      policy: 'p',
      periodStart: period,
      keyName: 'ingest',
      holder: 'h1',
      requestedUsd: new Money('1'),
    });
    owner = false;
    release();
    const g = await pending;
    assert.equal(g.grantedUsd.toFixed(), '0');
    assert.equal(g.state, 'busy');
    assert.equal(g.ownerPending, true);
    assert.equal(g.leaseId, '');
    assert.equal(book.size, 0);
    owner = true;
    const later = await book.grant({
      policy: 'p',
      periodStart: period,
      keyName: 'ingest',
      holder: 'h1',
      requestedUsd: new Money('1'),
    });
    assert.equal(later.grantedUsd.toFixed(), '1');
    assert.equal(later.expiresInMs, 120_000);
  });
});
