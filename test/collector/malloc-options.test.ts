/**
 * glibc allocator options the collector sets on itself (collector/src/service/malloc-options.ts,
 * decisions 0093, 0102): applied through mallopt in this (glibc) process, left to the operator when
 * they set glibc's own variables, and the periodic trim that returns the free pages inside the heap.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';
import { applyMallocOptions, startHeapTrims } from '../../collector/src/service/malloc-options';

/** Anonymous resident memory of this process, bytes. */
const residentAnon = (): number =>
  Number(/^RssAnon:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) * 1024;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('glibc allocator options', () => {
  it('are applied through mallopt where glibc is the C library', () => {
    assert.equal(applyMallocOptions({}), true);
  });

  it("leave an operator's own glibc settings alone", () => {
    assert.equal(applyMallocOptions({ MALLOC_MMAP_THRESHOLD_: '65536' }), false);
    assert.equal(applyMallocOptions({ GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=0' }), false);
    assert.equal(startHeapTrims({ GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=0' }).started, false);
  });

  it('return the free pages a burst of buffers left inside the heap', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    // 48 MiB of 64 KiB buffers (under the mmap threshold: they come from the heap), then one more that
    // stays alive above them, so that the heap's top cannot shrink when the rest are freed.
    let burst: Buffer[] = Array.from({ length: 768 }, () => Buffer.allocUnsafeSlow(64 * 1024).fill(1));
    const pin = Buffer.allocUnsafeSlow(64 * 1024).fill(2);
    burst = [];
    gc();
    await sleep(200);
    const holes = residentAnon();
    const trims = startHeapTrims({}, 50);
    try {
      assert.equal(trims.started, true);
      await sleep(300);
      const freed = holes - residentAnon();
      assert.ok(
        freed > 32 * 1024 * 1024,
        `the trim returned ${Math.round(freed / 1e6)} MB, expected > 33 MB`,
      );
    } finally {
      trims.stop();
    }
    assert.equal(pin[0], 2);
    assert.equal(burst.length, 0);
  });
});
