/**
 * The exclusive writer's memory of the keys it inserted: bounded, oldest out first, and an insert
 * costs the same at any size (the Map-only version slowed 500-fold between 100k and 600k keys).
 */
import assert from 'node:assert/strict';
import { RecentKeys } from '../../collector/src/storage/recent-keys';

const key = (i: number): string => i.toString(16).padStart(32, '0') + (i * 7).toString(16).padStart(16, '0');

/** A set of `capacity` keys, full, after a whole lap of evictions (the slow case was a table after many deletes). */
function fullAfterALap(capacity: number): RecentKeys {
  const keys = new RecentKeys(capacity);
  for (let i = 0; i < capacity; i++) keys.add(key(i), BigInt(i));
  for (let i = 0; i < capacity; i++) keys.add(key(-1 - i), BigInt(i));
  return keys;
}

/** CPU nanoseconds per insert of `fresh` into `keys` (CPU time: another process's load does not count). */
function nanosPerInsert(keys: RecentKeys, fresh: string[]): number {
  const before = process.cpuUsage();
  for (let i = 0; i < fresh.length; i++) keys.add(fresh[i]!, BigInt(i));
  const used = process.cpuUsage(before);
  return ((used.user + used.system) * 1000) / fresh.length;
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
    const small = fullAfterALap(100_000);
    const large = fullAfterALap(600_000);
    // Interleaved rounds, the best of each: what the structure costs, not what the machine was doing.
    let bestSmall = Infinity;
    let bestLarge = Infinity;
    for (let round = 0; round < 5; round++) {
      const fresh = Array.from({ length: 50_000 }, (_, i) => key(1_000_000 + round * 50_000 + i));
      bestSmall = Math.min(bestSmall, nanosPerInsert(small, fresh));
      bestLarge = Math.min(bestLarge, nanosPerInsert(large, fresh));
    }
    assert.ok(
      bestLarge <= 2 * bestSmall,
      `per insert: ${bestSmall.toFixed(0)} ns at 100k keys, ${bestLarge.toFixed(0)} ns at 600k`,
    );
  });
});
