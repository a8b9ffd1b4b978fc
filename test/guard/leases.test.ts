/**
 * The collector's lease book: grants never add up to more than limit − spent, reported spend stays
 * counted until its spans can have arrived, returned slices are free again, concurrent requests
 * never get the same money. The budget source is a stub here (the end-to-end tests use the real
 * BudgetEngine through the collector process).
 */
import assert from 'node:assert/strict';
import { LeaseBook, LeaseError, type LeaseBudgetSource } from '../../collector/src/govern/budgets/leases';
import { periodAt } from '../../collector/src/govern/budgets/periods';
import { Money } from '../../collector/src/core/money';

const NOW = new Date('2026-11-23T12:00:00Z');

function source(limit: string, spent: { usd: string }): LeaseBudgetSource {
  return {
    limitUsd: (p) => (p === 'capped' ? new Money(limit) : undefined),
    window: (p) => (p === 'capped' ? periodAt('monthly', NOW) : undefined),
    spentUsd: async () => {
      await new Promise((r) => setImmediate(r)); // as the engine: asynchronous
      return new Money(spent.usd);
    },
  };
}

describe('LeaseBook (collector side of budget leases)', () => {
  let clock: number;
  const periodStart = periodAt('monthly', NOW).start;
  const ask = (book: LeaseBook, holder: string, usd: string, used?: string) =>
    book.grant({
      policy: 'capped',
      periodStart,
      holder,
      requestedUsd: new Money(usd),
      ...(used !== undefined ? { usedUsd: new Money(used) } : {}),
    });

  beforeEach(() => {
    clock = NOW.getTime();
  });

  it('grants from limit − spent − outstanding, and concurrent requests never share money', async () => {
    const spent = { usd: '0.25' };
    const book = new LeaseBook(source('1', spent), { now: () => clock });
    const grants = await Promise.all(Array.from({ length: 10 }, (_, i) => ask(book, `h${i}`, '0.1')));
    const total = grants.reduce((t, g) => t.plus(g.grantedUsd), new Money(0));
    assert.equal(total.toFixed(), '0.75');
    assert.deepEqual(
      grants.map((g) => g.grantedUsd.toFixed()),
      ['0.1', '0.1', '0.1', '0.1', '0.1', '0.1', '0.1', '0.05', '0', '0'],
    );
    assert.equal(grants[9]!.unleasedUsd.toFixed(), '0');
    assert.equal(grants[9]!.holders, 10);
  });

  it('keeps reported spend counted until its spans have landed, then counts it once', async () => {
    const spent = { usd: '0' };
    const book = new LeaseBook(source('1', spent), { now: () => clock, settleGraceMs: 5_000 });
    const a = await ask(book, 'a', '0.6');
    assert.equal(a.grantedUsd.toFixed(), '0.6');
    // a spent 0.5 and says so; its spans have not arrived yet: 0.4 is free, not 0.9.
    clock += 1_000;
    const again = await ask(book, 'a', '0', '0.5');
    assert.equal(again.leaseId, a.leaseId);
    assert.equal(book.outstanding(`capped|${periodStart.getTime()}`).toFixed(), '0.6');
    const b = await ask(book, 'b', '0.4');
    assert.equal(b.grantedUsd.toFixed(), '0.4');
    // The grace passes but the spans are late (stored spend unchanged): still counted.
    clock += 6_000;
    assert.equal(book.release(b.leaseId)!.toFixed(), '0.4');
    assert.equal((await ask(book, 'c', '1')).grantedUsd.toFixed(), '0.4');
    // The spans arrive (stored spend 0.5): the 0.5 is counted once, and c's return frees 0.4 again.
    spent.usd = '0.5';
    const c = await ask(book, 'c', '0');
    assert.equal(c.unleasedUsd.toFixed(), '0');
    book.release(c.leaseId);
    assert.equal((await ask(book, 'd', '1')).grantedUsd.toFixed(), '0.4');
  });

  it('frees the unused part of a returned lease, and of an expired one', async () => {
    const spent = { usd: '0' };
    const book = new LeaseBook(source('1', spent), { now: () => clock, ttlMs: 30_000, settleGraceMs: 5_000 });
    const a = await ask(book, 'a', '0.7');
    const b = await ask(book, 'b', '0.7');
    assert.equal(b.grantedUsd.toFixed(), '0.3');
    assert.equal(book.release(a.leaseId, new Money('0.2'))!.toFixed(), '0.5');
    assert.equal(book.release(a.leaseId), undefined);
    assert.equal((await ask(book, 'c', '1')).grantedUsd.toFixed(), '0.5'); // 0.2 used stays counted
    clock += 31_000; // b and c never came back
    spent.usd = '0.2';
    assert.equal((await ask(book, 'd', '1')).grantedUsd.toFixed(), '0.8');
  });

  it('refuses unknown policies and past periods with a reason', async () => {
    const book = new LeaseBook(source('1', { usd: '0' }), { now: () => clock });
    assert.throws(
      () => book.grant({ policy: 'nope', periodStart, holder: 'a', requestedUsd: new Money(1) }),
      (e: unknown) => e instanceof LeaseError && e.status === 404 && /no budget/.test(e.message),
    );
    assert.throws(
      () =>
        book.grant({
          policy: 'capped',
          periodStart: new Date('2026-10-01T00:00:00Z'),
          holder: 'a',
          requestedUsd: new Money(1),
        }),
      (e: unknown) => e instanceof LeaseError && e.status === 409 && /not the current period/.test(e.message),
    );
  });
});
