/** The exclusive writer's filter of the keys it no longer remembers exactly (decision 0107). */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { KeyFilter } from '../../collector/src/storage/key-filter';

/** Span keys as the writer forms them: a trace id (32 hex digits) and a span id (16). */
const keys = (n: number): string[] => {
  const hex = randomBytes(n * 24).toString('hex');
  return Array.from({ length: n }, (_, i) => hex.slice(i * 48, i * 48 + 48));
};

describe('key filter of the exclusive writer', () => {
  it('never forgets a key it holds, and says "maybe" for few others at capacity', () => {
    const capacity = 200_000;
    const filter = new KeyFilter(capacity);
    const held = keys(capacity);
    held.forEach((k, i) => filter.add(k, BigInt(i)));
    assert.equal(filter.full, true);
    assert.equal(filter.latestStart, BigInt(capacity - 1));
    assert.equal(held.filter((k) => !filter.mightHave(k)).length, 0);
    const others = keys(200_000);
    const maybe = others.filter((k) => filter.mightHave(k)).length;
    // 16 bits and 7 probes a key: about 0.07 % of keys never added.
    assert.ok(maybe / others.length < 0.002, `${maybe} of ${others.length} keys never added said "maybe"`);
  });

  it('also for keys that differ in one digit (sequential span ids)', () => {
    const filter = new KeyFilter(10_000);
    const trace = 'ab'.repeat(16);
    for (let i = 0; i < 10_000; i++) filter.add(trace + i.toString(16).padStart(16, '0'), 1n);
    let maybe = 0;
    for (let i = 10_000; i < 30_000; i++)
      if (filter.mightHave(trace + i.toString(16).padStart(16, '0'))) maybe++;
    assert.ok(maybe / 20_000 < 0.005, `${maybe} of 20000 sequential keys never added said "maybe"`);
    for (let i = 0; i < 10_000; i++) assert.ok(filter.mightHave(trace + i.toString(16).padStart(16, '0')));
  });

  it('is empty again once cleared', () => {
    const filter = new KeyFilter(4);
    assert.equal(filter.mightHave('x'), false);
    for (const k of ['a', 'b', 'c', 'd']) filter.add(k, 7n);
    assert.equal(filter.full, true);
    filter.clear();
    assert.equal(filter.size, 0);
    assert.equal(filter.latestStart, -1n);
    assert.equal(
      ['a', 'b', 'c', 'd'].some((k) => filter.mightHave(k)),
      false,
    );
  });
});
