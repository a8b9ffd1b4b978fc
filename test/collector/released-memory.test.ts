/**
 * Memory released by OTLP requests is collected at once (collector/src/service/released-memory.ts,
 * decision 0119): V8 alone collects a request's freed body only after ~64 MiB more outside memory.
 */
import assert from 'node:assert/strict';
import { collectAfterReleases } from '../../collector/src/service/released-memory';

const MiB = 1024 * 1024;
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('memory released by OTLP requests', () => {
  it('is given back once a threshold of it was released, without waiting for V8', async () => {
    const memory = collectAfterReleases(16 * MiB);
    let bodies: Buffer[] = Array.from({ length: 24 }, () => Buffer.alloc(MiB, 1));
    // Held weakly: cleared only by a collection that found the bodies unreachable.
    const weak = bodies.map((b) => new WeakRef(b));
    await nextTurn();
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
    const alive = weak.filter((w) => w.deref() !== undefined).length;
    assert.equal(alive, 0, `${alive} of the 24 released bodies still allocated after the collection`);
    assert.equal(bodies.length, 0);
  });

  it('collects nothing when turned off (0)', async () => {
    const memory = collectAfterReleases(0);
    memory.released(64 * MiB);
    await nextTurn();
    assert.equal(memory.collections, 0);
  });
});
