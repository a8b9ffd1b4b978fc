/**
 * The exclusive writer's memory of the keys it inserted: bounded, oldest out first, and an insert
 * costs the same at any size (the Map-only version slowed 500-fold between 100k and 600k keys).
 */
import assert from 'node:assert/strict';
import { RecentKeys } from '../../collector/src/storage/recent-keys';

const key = (i: number): string => i.toString(16).padStart(32, '0') + (i * 7).toString(16).padStart(16, '0');

/** Median nanoseconds per insert of `inserts` new keys into a set already full at `capacity`. */
function nanosPerInsertWhenFull(capacity: number, inserts: number): number {
  const samples: number[] = [];
  const fresh = Array.from({ length: inserts }, (_, i) => key(capacity + i));
  for (let round = 0; round < 3; round++) {
    const keys = new RecentKeys(capacity);
    for (let i = 0; i < capacity; i++) keys.add(key(i), BigInt(i));
    // Evict a full lap first: the slow case was the table after many deletes, not a fresh one.
    for (let i = 0; i < capacity; i++) keys.add(key(-1 - i), BigInt(i));
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < inserts; i++) keys.add(fresh[i]!, BigInt(i));
    samples.push(Number(process.hrtime.bigint() - t0) / inserts);
  }
  return samples.sort((a, b) => a - b)[1]!;
}

describe('recent keys of the exclusive writer', () => {
  it('keeps the latest keys up to its capacity and hands back the start time of the one it evicts', () => {
    const keys = new RecentKeys(3);
    assert.equal(keys.add('a', 1n), undefined);
    assert.equal(keys.add('b', 2n), undefined);
    assert.equal(keys.add('c', 3n), undefined);
    assert.equal(keys.add('b', 5n), undefined, 'a key already held is not added twice');
    assert.equal(keys.size, 3);
    assert.equal(keys.add('d', 4n), 1n);
    assert.equal(keys.has('a'), false);
    assert.deepEqual(
      ['b', 'c', 'd'].map((k) => keys.has(k)),
      [true, true, true],
    );
    assert.equal(keys.add('e', 6n), 5n, 'b leaves next, with its latest start time');
    assert.equal(keys.add('f', 7n), 3n);
    assert.equal(keys.size, 3);
  });

  it('costs the same per insert at 600k keys as at 100k (within 2x), after evictions', function () {
    this.timeout(120_000);
    const small = nanosPerInsertWhenFull(100_000, 50_000);
    const large = nanosPerInsertWhenFull(600_000, 50_000);
    assert.ok(
      large <= 2 * small,
      `per insert: ${small.toFixed(0)} ns at 100k keys, ${large.toFixed(0)} ns at 600k`,
    );
  });
});
