/**
 * Memory released by OTLP requests is collected at once (collector/src/service/released-memory.ts,
 * decision 0119): V8 alone collects a request's freed body only after ~64 MiB more outside memory.
 */
import assert from 'node:assert/strict';
import { collectAfterReleases } from '../../collector/src/service/released-memory';

const MiB = 1024 * 1024;
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const outsideBytes = (): number => process.memoryUsage().arrayBuffers;

describe('memory released by OTLP requests', () => {
  it('is given back once a threshold of it was released, without waiting for V8', async () => {
    const memory = collectAfterReleases(16 * MiB);
    let bodies: Buffer[] = Array.from({ length: 24 }, () => Buffer.alloc(MiB, 1));
    await nextTurn();
    const held = outsideBytes();
    bodies = [];
    memory.released(12 * MiB);
    await nextTurn();
    await nextTurn();
    assert.equal(memory.collections, 0, 'below the threshold nothing is collected');
    memory.released(12 * MiB);
    memory.released(12 * MiB);
    await nextTurn();
    await nextTurn();
    assert.equal(memory.collections, 1, 'one collection for releases told in the same turn');
    const freed = held - outsideBytes();
    assert.ok(freed >= 20 * MiB, `${Math.round(freed / MiB)} MiB given back, expected the 24 MiB of bodies`);
    assert.equal(bodies.length, 0);
  });

  it('collects nothing when turned off (0)', async () => {
    const memory = collectAfterReleases(0);
    memory.released(64 * MiB);
    await nextTurn();
    assert.equal(memory.collections, 0);
  });
});
