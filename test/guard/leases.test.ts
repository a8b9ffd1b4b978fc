/**
 * The collector's lease book and its grant rules: grants never add up to more than what is left,
 * a stored call stops counting as held the moment it lands (and never counts zero times), what is
 * given back is free again, a refusal says whether the money is spent or only held, the last call
 * is granted when nothing is held, keys reach only their own leases, scoped keys lease only what
 * their scope can spend, and one key cannot hold more than half of what the others do not. The
 * budget source is a stub here (the end-to-end tests use the real BudgetEngine through the
 * collector process).
 */
import assert from 'node:assert/strict';
import {
  LeaseBook,
  LeaseError,
  type LeaseBudgetSource,
  type LeaseGrantRequest,
} from '../../collector/src/govern/budgets/leases';
import { decideGrant } from '../../collector/src/govern/budgets/grant-rules';
import { periodAt } from '../../collector/src/govern/budgets/periods';
import { Money } from '../../collector/src/core/money';

const NOW = new Date('2026-11-23T12:00:00Z');

/**
 * A budget of `limit` whose stored spend is `spent.usd`, computed at `spent.asOf`; a figure computed
 * anew (`fresh`) is `spent.fresh` when set, and each one is counted.
 */
function source(
  limit: string,
  spent: { usd: string; asOf?: number; fresh?: string; freshFigures?: number },
  match = {},
): LeaseBudgetSource {
  return {
    limitUsd: (p) => (p === 'capped' ? new Money(limit) : undefined),
    matchOf: (p) => (p === 'capped' ? match : undefined),
    window: (p) => (p === 'capped' ? periodAt('monthly', NOW) : undefined),
    spendFigure: async (_policy, _start, opts) => {
      await new Promise((r) => setImmediate(r)); // as the engine: asynchronous
      if (opts?.fresh && spent.fresh !== undefined) {
        // As the engine: the fresh figure is the last figure from now on.
        spent.freshFigures = (spent.freshFigures ?? 0) + 1;
        spent.usd = spent.fresh;
        spent.asOf = Date.now();
      }
      return { usd: new Money(spent.usd), asOf: spent.asOf ?? Date.now() };
    },
  };
}

describe('LeaseBook (collector side of budget leases)', () => {
  let clock: number;
  const periodStart = periodAt('monthly', NOW).start;
  const ask = (book: LeaseBook, holder: string, usd: string, more: Partial<LeaseGrantRequest> = {}) =>
    book.grant({
      policy: 'capped',
      periodStart,
      keyName: 'app',
      holder,
      requestedUsd: new Money(usd),
      ...more,
    });
  const land = (book: LeaseBook, leaseId: string, span: string, usd: string, key = 'app') =>
    book.landed(key, [{ leaseIds: [leaseId], spanKey: span, costUsd: new Money(usd) }]);

  beforeEach(() => {
    clock = NOW.getTime();
  });

  it('grants from limit − spent − held, at most 10 % of the limit a grant, and concurrent requests never share money', async () => {
    const spent = { usd: '0.25' };
    const book = new LeaseBook(source('1', spent), { now: () => clock });
    const grants = await Promise.all(Array.from({ length: 10 }, (_, i) => ask(book, `h${i}`, '0.2')));
    assert.deepEqual(
      grants.map((g) => g.grantedUsd.toFixed()),
      ['0.1', '0.1', '0.1', '0.1', '0.1', '0.1', '0.1', '0.05', '0', '0'],
    );
    assert.equal(grants[9]!.unleasedUsd.toFixed(), '0');
    assert.equal(grants[9]!.holders, 10);
    assert.equal(grants[9]!.state, 'ok', 'a background top-up that gets nothing is not refused');
  });

  it('a stored call stops counting as held when it lands — once, however often its span is retried', async () => {
    const spent = { usd: '0', asOf: clock };
    const book = new LeaseBook(source('1', spent), { now: () => clock });
    const a = await ask(book, 'a', '0.1');
    // a spent 0.08 in 8 calls; they are stored (the figure has not caught up yet).
    for (let i = 0; i < 8; i++) land(book, a.leaseId, `span${i}`, '0.01');
    land(book, a.leaseId, 'span0', '0.01'); // an exporter's retry
    assert.equal(book.outstanding(`capped|${periodStart.getTime()}`).toFixed(), '0.02');
    const b = await ask(book, 'b', '1');
    assert.equal(b.grantedUsd.toFixed(), '0.1');
    assert.equal(b.unleasedUsd.toFixed(), '0.8', 'limit − (figure + landed since) − held');
    // The figure now includes them: counted there, once.
    spent.usd = '0.08';
    spent.asOf = clock + 1;
    clock += 2;
    assert.equal((await ask(book, 'c', '0')).unleasedUsd.toFixed(), '0.8');
  });

  it('a refusal says why: exceeded only once the stored spend reached the limit, busy while what is left is held', async () => {
    const spent = { usd: '0.9', asOf: clock };
    const book = new LeaseBook(source('1', spent), { now: () => clock });
    const a = await ask(book, 'a', '0.1');
    assert.equal(a.grantedUsd.toFixed(), '0.1');
    const busy = await ask(book, 'b', '0.05', { needUsd: new Money('0.01') });
    assert.deepEqual([busy.state, busy.grantedUsd.toFixed(), busy.retryAfterSeconds], ['busy', '0', 1]);
    assert.equal(busy.spentUsd.toFixed(), '0.9', 'the collector’s own figure');
    assert.equal(busy.contended, true, 'holders are told to give back what no call holds');
    // a gives back what it did not use: b's need is met.
    const back = await ask(book, 'a', '0', { usedUsd: new Money('0.03'), returnedUsd: new Money('0.07') });
    assert.equal(back.totalGrantedUsd.toFixed(), '0.03');
    assert.equal((await ask(book, 'b', '0.05', { needUsd: new Money('0.01') })).grantedUsd.toFixed(), '0.05');
    spent.usd = '1';
    const over = await ask(book, 'c', '0.01', { needUsd: new Money('0.01') });
    assert.deepEqual(
      [over.state, over.grantedUsd.toFixed(), over.spentUsd.toFixed()],
      ['exceeded', '0', '1'],
    );
  });

  it('a waiting call refused as busy is held and answered the moment money is given back or lands; busy when none frees up within the hold', async () => {
    const settled = <T>(p: Promise<T>): { done: boolean } => {
      const state = { done: false };
      void p.then(() => (state.done = true));
      return state;
    };
    const turns = () => new Promise((r) => setTimeout(r, 20));
    const spent: { usd: string; asOf: number; fresh?: string } = { usd: '0.9', asOf: clock };
    // A hold far longer than the test: what answers the held request is the money, not the timer.
    const book = new LeaseBook(source('1', spent), { now: () => clock, busyHoldMs: 60_000 });
    const a = await ask(book, 'a', '0.1');
    assert.equal(a.grantedUsd.toFixed(), '0.1');
    // b's call waits for 0.01: all that is left is a's slice.
    const waiting = ask(book, 'b', '0', { needUsd: new Money('0.01') });
    const b = settled(waiting);
    await turns();
    assert.equal(b.done, false, 'held while a holds the money');
    // a's calls used 0.06 (stored: the figure has not caught up), a gives back the 0.04 no call holds.
    for (let i = 0; i < 6; i++) land(book, a.leaseId, `a${i}`, '0.01');
    await turns();
    assert.equal(b.done, false, 'stored calls of a slice free nothing while the slice holds the rest');
    await ask(book, 'a', '0', { usedUsd: new Money('0.06'), returnedUsd: new Money('0.04') });
    const granted = await waiting;
    assert.deepEqual([granted.state, granted.grantedUsd.toFixed()], ['ok', '0.01']);

    // The rest is spent by b and c; c's call then waits, and the landing of the last calls answers it:
    // exceeded, from a figure that includes them.
    const c = await ask(book, 'c', '0.03', { needUsd: new Money('0.01') });
    assert.equal(c.grantedUsd.toFixed(), '0.03');
    const last = ask(book, 'c', '0', { needUsd: new Money('0.01') });
    await turns();
    land(book, granted.leaseId, 'b0', '0.01');
    for (let i = 0; i < 3; i++) land(book, c.leaseId, `c${i}`, '0.01');
    spent.fresh = '1';
    const over = await last;
    assert.deepEqual([over.state, over.spentUsd.toFixed()], ['exceeded', '1']);

    // Nothing frees up: busy once the hold ends.
    const short = new LeaseBook(source('1', { usd: '0.9', asOf: clock }), {
      now: () => clock,
      busyHoldMs: 50,
    });
    await ask(short, 'a', '0.1');
    const busy = await ask(short, 'b', '0', { needUsd: new Money('0.01') });
    assert.deepEqual([busy.state, busy.retryAfterSeconds], ['busy', 1]);

    // A downgrade policy's call has the cheaper model to go to: its busy answer is not held.
    const downgrading = new LeaseBook(
      { ...source('1', { usd: '0.9', asOf: clock }), onExceeded: () => 'downgrade' },
      { now: () => clock, busyHoldMs: 60_000 },
    );
    await ask(downgrading, 'a', '0.1');
    const atOnce = await Promise.race([
      ask(downgrading, 'b', '0', { needUsd: new Money('0.01') }).then((g) => g.state),
      new Promise((resolve) => setTimeout(resolve, 10_000, 'held')),
    ]);
    assert.equal(atOnce, 'busy', 'answered without a hold');
  });

  it('a waiting call whose money the calls stored since the last figure may have spent is answered from a fresh figure: exceeded at once, not busy until the figure catches up', async () => {
    const stale = async (fresh: string) => {
      const spent: { usd: string; asOf: number; fresh?: string; freshFigures?: number } = {
        usd: '0.9',
        asOf: clock - 5_000,
      };
      const book = new LeaseBook(source('1', spent), { now: () => clock });
      const a = await ask(book, 'a', '0.1');
      // Stored since the last figure: 0.1, the rest of the limit by that sum.
      for (let i = 0; i < 10; i++) land(book, a.leaseId, `s${i}`, '0.01');
      // A background top-up uses the last figure.
      await ask(book, 'top-up', '0.01');
      assert.equal(spent.freshFigures, undefined);
      spent.fresh = fresh;
      const answer = await ask(book, 'b', '0', { needUsd: new Money('0.01') });
      assert.equal(spent.freshFigures, 1);
      return answer;
    };
    // The fresh figure includes them: the money is spent.
    const over = await stale('1');
    assert.deepEqual([over.state, over.spentUsd.toFixed()], ['exceeded', '1']);
    // It shows money left (the sum counted a call twice): the usual rules, no false "exceeded".
    const left = await stale('0.95');
    assert.deepEqual([left.state, left.grantedUsd.toFixed()], ['ok', '0.01']);
  });

  it('grants the last call when nothing is held, even beyond what is left (the only overshoot)', () => {
    const base = {
      limit: new Money('1'),
      landedSince: new Money(0),
      keyHeld: new Money(0),
      othersHeld: new Money(0),
      otherKeys: false,
      requested: new Money('0.03'),
      need: new Money('0.03'),
    };
    assert.deepEqual(decideGrant({ ...base, spent: new Money('0.98'), held: new Money(0) }), {
      grant: new Money('0.03'),
      state: 'ok',
    });
    assert.equal(decideGrant({ ...base, spent: new Money('0.98'), held: new Money('0.001') }).state, 'busy');
    assert.equal(decideGrant({ ...base, spent: new Money('1'), held: new Money(0) }).state, 'exceeded');
  });

  it('while a call waits, a background top-up leaves what it needs', () => {
    const base = {
      limit: new Money('1'),
      spent: new Money('0.5'),
      landedSince: new Money(0),
      held: new Money('0.1'),
      keyHeld: new Money('0.1'),
      othersHeld: new Money(0),
      otherKeys: false,
      requested: new Money('0.05'),
    };
    const topUp = { ...base, need: new Money(0) };
    assert.equal(decideGrant(topUp).grant.toFixed(), '0.05', 'no one waits: topped up');
    // 0.4 is free: a top-up while a call waits for 0.38 gets the 0.02 beyond it.
    const left = decideGrant({ ...topUp, waitingNeed: new Money('0.38') });
    assert.deepEqual([left.state, left.grant.toFixed()], ['ok', '0.02']);
    assert.deepEqual(decideGrant({ ...topUp, waitingNeed: new Money('0.45') }), {
      grant: new Money(0),
      state: 'ok',
    });
    const waiting = decideGrant({ ...base, need: new Money('0.01'), waitingNeed: new Money('0.45') });
    assert.deepEqual([waiting.state, waiting.grant.toFixed()], ['ok', '0.05']);
  });

  it('while other keys lease the budget, a key holds at most half of what they do not', async () => {
    const book = new LeaseBook(source('1', { usd: '0' }), { now: () => clock });
    await ask(book, 'x', '0.1', { keyName: 'other' });
    // What the others do not hold: 0.9; half of it is 0.45, in grants of at most 0.1.
    const grants = [];
    for (let i = 0; i < 6; i++)
      grants.push((await ask(book, `h${i}`, '0.1', { keyName: 'greedy' })).grantedUsd.toFixed());
    assert.deepEqual(grants, ['0.1', '0.1', '0.1', '0.1', '0.05', '0']);
    // The other key still gets its share.
    assert.equal((await ask(book, 'y', '0.1', { keyName: 'other' })).grantedUsd.toFixed(), '0.1');
  });

  it('holders are namespaced by key: a key renews and returns only its own leases', async () => {
    const book = new LeaseBook(source('1', { usd: '0' }), { now: () => clock });
    const mine = await ask(book, 'host:1:abc', '0.1', { keyName: 'search-app' });
    const theirs = await ask(book, 'host:1:abc', '0.1', { keyName: 'ads-app' });
    assert.notEqual(mine.leaseId, theirs.leaseId, 'the same holder name under two keys is two leases');
    assert.equal(book.release(mine.leaseId, 'ads-app'), undefined, 'another key cannot return it');
    assert.equal(book.release(mine.leaseId, 'search-app')!.toFixed(), '0.1');
    // A landing claimed by another key's span does not touch this lease.
    land(book, theirs.leaseId, 's1', '0.05', 'search-app');
    assert.equal(book.outstanding(`capped|${periodStart.getTime()}`).toFixed(), '0.1');
  });

  it('a scoped key leases only from policies that can select calls in its scope (company-wide caps included)', async () => {
    const teamCap = new LeaseBook(source('1', { usd: '0' }, { team: 'ads' }), { now: () => clock });
    assert.throws(
      () => ask(teamCap, 'h', '0.1', { keyName: 'search-app', scope: { team: ['search'] } }),
      (e: unknown) => e instanceof LeaseError && e.status === 403 && /scoped to team=search/.test(e.message),
    );
    const companyWide = new LeaseBook(source('1', { usd: '0' }), { now: () => clock });
    const g = await ask(companyWide, 'h', '0.1', { keyName: 'search-app', scope: { team: ['search'] } });
    assert.equal(g.grantedUsd.toFixed(), '0.1');
  });

  it('a returned lease holds what it used until its calls are stored; one not renewed for 2 minutes is forgotten', async () => {
    const spent = { usd: '0' };
    const book = new LeaseBook(source('1', spent), { now: () => clock });
    const key = `capped|${periodStart.getTime()}`;
    const a = await ask(book, 'a', '0.1');
    assert.equal(book.release(a.leaseId, 'app', new Money('0.04'))!.toFixed(), '0.06');
    assert.equal(book.outstanding(key).toFixed(), '0.04');
    land(book, a.leaseId, 's', '0.04');
    assert.equal(book.outstanding(key).toFixed(), '0');
    await ask(book, 'b', '0.1');
    clock += 119_000;
    assert.equal((await ask(book, 'c', '0')).unleasedUsd.toFixed(), '0.9', 'b is only slow');
    clock += 2_000;
    assert.equal((await ask(book, 'c', '0')).unleasedUsd.toFixed(), '1', 'b is gone');
  });

  it('spend a holder reported but never got stored is held for a minute, then counts as spent: the calls waiting for it are answered, and a late span counts once (decision 0094)', async () => {
    const spent = { usd: '0.9', asOf: clock };
    const book = new LeaseBook(source('1', spent), { now: () => clock, busyHoldMs: 0 });
    const key = `capped|${periodStart.getTime()}`;
    const a = await ask(book, 'a', '0.1');
    // a's calls used the whole slice; the export of their spans was lost (nothing lands). a keeps
    // renewing, reporting what it used, as a live process does every second.
    await ask(book, 'a', '0', { usedUsd: new Money('0.1') });
    const waiting = () => ask(book, 'b', '0', { needUsd: new Money('0.01') });
    const early = await waiting();
    assert.deepEqual(
      [early.state, early.spentUsd.toFixed()],
      ['busy', '0.9'],
      'a holds it while its spans may come',
    );
    clock += 59_000;
    await ask(book, 'a', '0', { usedUsd: new Money('0.1') });
    assert.equal((await waiting()).state, 'busy', 'still within the minute');
    clock += 2_000;
    await ask(book, 'a', '0', { usedUsd: new Money('0.1') });
    const late = await waiting();
    assert.deepEqual([late.state, late.spentUsd.toFixed()], ['exceeded', '1'], 'spent, not held for good');
    assert.equal(book.outstanding(key).toFixed(), '0');
    // The spans arrive after all and the stored figure includes them: counted once, not twice.
    land(book, a.leaseId, 'a0', '0.1');
    clock += 1;
    Object.assign(spent, { usd: '1', asOf: clock });
    const stored = await waiting();
    assert.deepEqual([stored.state, stored.spentUsd.toFixed()], ['exceeded', '1']);

    // Lost spend with money left: what is not lost is granted, the rest is answered as spent.
    const part = { usd: '0.8', asOf: clock };
    const book2 = new LeaseBook(source('1', part), { now: () => clock, busyHoldMs: 0 });
    const c = await ask(book2, 'c', '0.1');
    await ask(book2, 'd', '0.1');
    await ask(book2, 'c', '0', { usedUsd: new Money('0.1') });
    assert.equal((await ask(book2, 'e', '0', { needUsd: new Money('0.01') })).state, 'busy');
    clock += 61_000;
    await ask(book2, 'c', '0', { usedUsd: new Money('0.1') });
    // d gives back its unused slice: e gets it; c's lost 0.1 is spent, never granted again.
    await ask(book2, 'd', '0', { returnedUsd: new Money('0.1') });
    const e = await ask(book2, 'e', '0.2', { needUsd: new Money('0.01') });
    assert.deepEqual([e.state, e.grantedUsd.toFixed(), e.spentUsd.toFixed()], ['ok', '0.1', '0.9']);
    assert.ok(c.leaseId);
  });

  it('a lost span that lands after the spend figure began counts once: in what landed since, no longer as lost (decision 0118)', async () => {
    const spent = { usd: '0.8', asOf: clock };
    const book = new LeaseBook(source('1', spent), { now: () => clock, busyHoldMs: 0 });
    const a = await ask(book, 'a', '0.1');
    await ask(book, 'a', '0', { usedUsd: new Money('0.1') });
    clock += 61_000;
    await ask(book, 'a', '0', { usedUsd: new Money('0.1') });
    assert.equal((await ask(book, 'b', '0')).spentUsd.toFixed(), '0.9', 'a minute on, lost: spent');
    // a's spans arrive after all, after the figure (still 0.8) began: 0.1 landed since, 0.1 left.
    land(book, a.leaseId, 'a0', '0.1');
    const b = await ask(book, 'b', '0.05', { needUsd: new Money('0.01') });
    assert.deepEqual(
      [b.state, b.grantedUsd.toFixed(), b.spentUsd.toFixed()],
      ['ok', '0.05', '0.8'],
      'the 0.1 counted twice (lost and landed since) would leave nothing',
    );
    // The budget state the guards read adds no lost spend for it either.
    assert.equal(book.lostSpend('capped', periodStart).toFixed(), '0');
  });

  it('refuses unknown policies and past periods with a reason', async () => {
    const book = new LeaseBook(source('1', { usd: '0' }), { now: () => clock });
    assert.throws(
      () => ask(book, 'a', '1', { policy: 'nope' }),
      (e: unknown) => e instanceof LeaseError && e.status === 404 && /no budget/.test(e.message),
    );
    assert.throws(
      () => ask(book, 'a', '1', { periodStart: new Date('2026-10-01T00:00:00Z') }),
      (e: unknown) => e instanceof LeaseError && e.status === 409 && /not the current period/.test(e.message),
    );
  });
});
