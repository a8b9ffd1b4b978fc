/**
 * glibc allocator options the collector sets on itself (collector/src/service/malloc-options.ts,
 * decision 0093): applied through mallopt in this (glibc) process, and left to the operator when
 * they set glibc's own variables.
 */
import assert from 'node:assert/strict';
import { applyMallocOptions } from '../../collector/src/service/malloc-options';

describe('glibc allocator options', () => {
  it('are applied through mallopt where glibc is the C library', () => {
    assert.equal(applyMallocOptions({}), true);
  });

  it("leave an operator's own glibc settings alone", () => {
    assert.equal(applyMallocOptions({ MALLOC_MMAP_THRESHOLD_: '65536' }), false);
    assert.equal(applyMallocOptions({ GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=0' }), false);
  });
});
