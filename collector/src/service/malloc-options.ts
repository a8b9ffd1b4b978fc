/**
 * glibc allocator options the collector sets on itself when it starts, before the engine loads
 * (decision 0093). glibc reads its `MALLOC_*` variables only when a process starts, so they are set
 * with `mallopt` (./libc.ts) instead:
 *
 * - `M_MMAP_THRESHOLD` fixed at 128 KiB: buffers that large (request bodies, inflated gzip, insert
 *   blocks) are mapped on their own and unmapped when freed. By default glibc raises the threshold to
 *   the largest such buffer freed (up to 32 MiB), after which they come from the heap, and their
 *   pages stay with the process once freed between live allocations.
 * - `M_TRIM_THRESHOLD` at 128 KiB: the top of the heap goes back once that much of it is free.
 *
 * An operator's own `MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_` or `GLIBC_TUNABLES` wins.
 */
import { loadLibc } from './libc';

const M_TRIM_THRESHOLD = -1;
const M_MMAP_THRESHOLD = -3;
const THRESHOLD_BYTES = 128 * 1024;

/** Applies the options where glibc is the C library; whether they were applied. */
export function applyMallocOptions(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.MALLOC_MMAP_THRESHOLD_ || env.MALLOC_TRIM_THRESHOLD_ || env.GLIBC_TUNABLES) return false;
  const libc = loadLibc();
  if (typeof libc === 'string' || !libc.mallopt) return false;
  // mallopt answers 1 on success.
  return (
    libc.mallopt(M_MMAP_THRESHOLD, THRESHOLD_BYTES) === 1 &&
    libc.mallopt(M_TRIM_THRESHOLD, THRESHOLD_BYTES) === 1
  );
}
