/**
 * Memory released by OTLP requests is collected at once (collector/src/service/released-memory.ts,
 * decisions 0119 and 0121): V8 alone collects a request's freed body only after ~64 MiB more outside
 * memory; a collection is forced only while that memory is still allocated.
 */
import assert from 'node:assert/strict';
import { collectAfterReleases } from '../../collector/src/service/released-memory';

const MiB = 1024 * 1024;
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const twoTurns = async (): Promise<void> => {
  await nextTurn();
  await nextTurn();
};

describe('memory released by OTLP requests', () => {
  it('is given back once a threshold of it was released, without waiting for V8', async () => {
    const memory = collectAfterReleases(16 * MiB);
    let bodies: Buffer[] = Array.from({ length: 24 }, () => Buffer.alloc(MiB, 1));
    // Held weakly: cleared only by a collection that found the bodies unreachable.
    const weak = bodies.map((b) => new WeakRef(b));
    await nextTurn();
    bodies = [];
    memory.released(12 * MiB, 0);
    await twoTurns();
    assert.equal(memory.collections, 0, 'below the threshold nothing is collected');
    memory.released(12 * MiB, 0);
    memory.released(12 * MiB, 0);
    await twoTurns();
    assert.equal(memory.collections, 1, 'one collection for releases told in the same turn');
    const alive = weak.filter((w) => w.deref() !== undefined).length;
    assert.equal(alive, 0, `${alive} of the 24 released bodies still allocated after the collection`);
    assert.equal(bodies.length, 0);
  });

  it('collects nothing when what was released is already freed', async () => {
    // The outside memory as the check reads it: 40 MiB of buffers that live on, then the bodies.
    let allocated = 40 * MiB;
    const memory = collectAfterReleases(16 * MiB, { outsideBytes: () => allocated });
    memory.released(16 * MiB, 0);
    await twoTurns();
    assert.equal(memory.collections, 1, 'the first check finds 40 MiB it cannot tell from garbage');

    // 32 MiB of bodies released and V8 already freed them: nothing left to collect.
    memory.released(16 * MiB, 0);
    await twoTurns();
    memory.released(16 * MiB, 0);
    await twoTurns();
    assert.equal(memory.collections, 1, 'no collection while nothing beyond the survivors is allocated');
    assert.equal(memory.skipped, 2);

    // Requests in flight hold 30 MiB: theirs, not garbage.
    allocated = 70 * MiB;
    memory.released(16 * MiB, 30 * MiB);
    await twoTurns();
    assert.equal(memory.collections, 1, 'what requests still hold is not garbage');

    // 20 MiB of released bodies still allocated: collected.
    allocated = 60 * MiB;
    memory.released(16 * MiB, 0);
    await twoTurns();
    assert.equal(memory.collections, 2, 'released memory still allocated is collected');
    assert.equal(memory.skipped, 3);
  });

  it('collects nothing when turned off (0)', async () => {
    const memory = collectAfterReleases(0);
    memory.released(64 * MiB, 0);
    await nextTurn();
    assert.equal(memory.collections, 0);
  });
});
