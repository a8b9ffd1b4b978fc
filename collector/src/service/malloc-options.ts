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
 * Once the collector runs, `malloc_trim` every second returns the free pages inside glibc's heaps
 * (decision 0102): the trim threshold only gives back the top of the heap, and a flood of bodies
 * leaves it full of holes below a live allocation — 47 MB of free pages, resident, at the peak of fault
 * row 3's full run.
 *
 * An operator's own `MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_` or `GLIBC_TUNABLES` wins: then
 * glibc is left as they set it, trims included.
 */
import { loadLibc } from './libc';

const M_TRIM_THRESHOLD = -1;
const M_MMAP_THRESHOLD = -3;
const THRESHOLD_BYTES = 128 * 1024;

/** How often the free pages inside glibc's heaps are returned (a trim takes ~1–4 ms under a flood). */
const HEAP_TRIM_INTERVAL_MS = 1_000;

const operatorTunesGlibc = (env: NodeJS.ProcessEnv): boolean =>
  Boolean(env.MALLOC_MMAP_THRESHOLD_ || env.MALLOC_TRIM_THRESHOLD_ || env.GLIBC_TUNABLES);

/** Applies the options where glibc is the C library; whether they were applied. */
export function applyMallocOptions(env: NodeJS.ProcessEnv = process.env): boolean {
  if (operatorTunesGlibc(env)) return false;
  const libc = loadLibc();
  if (typeof libc === 'string' || !libc.mallopt) return false;
  // mallopt answers 1 on success.
  return (
    libc.mallopt(M_MMAP_THRESHOLD, THRESHOLD_BYTES) === 1 &&
    libc.mallopt(M_TRIM_THRESHOLD, THRESHOLD_BYTES) === 1
  );
}

/**
 * Trims glibc's heaps every `intervalMs` (unref'd timer) until stopped; where glibc is not the C
 * library, or the operator tunes it, nothing is started and `started` is false.
 */
export function startHeapTrims(
  env: NodeJS.ProcessEnv = process.env,
  intervalMs = HEAP_TRIM_INTERVAL_MS,
): { started: boolean; stop(): void } {
  const libc = loadLibc();
  if (operatorTunesGlibc(env) || typeof libc === 'string' || !libc.mallocTrim) {
    return { started: false, stop: () => undefined };
  }
  const trim = libc.mallocTrim;
  const timer = setInterval(() => trim(0), intervalMs).unref();
  return { started: true, stop: () => clearInterval(timer) };
}
