/**
 * Collects V8's garbage once OTLP requests have released enough memory and that memory is still
 * allocated (decision 0119, made conditional by decision 0121).
 *
 * A request body is a Buffer whose bytes live outside V8's heap. When the request is done, the
 * bytes stay allocated until a collection finds the Buffer unreachable, and V8 starts a full
 * collection for outside memory only after it grew by about 64 MiB since the last one: in a flood
 * the bodies already released held as much again as the ingest budget (48 MiB) allows in flight.
 * Counting what requests release and collecting after every `afterBytes` of it bounds that garbage
 * to `afterBytes`.
 *
 * A collection is forced only when the buffers outside the heap exceed what requests hold now and
 * what survived the last collection by `afterBytes`: in ordinary ingest V8's own collections free
 * bodies soon enough, and a forced full collection there is CPU for nothing.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

type Collect = () => void;

/** V8's `gc()`, exposed at run time as jest's leak detector does; the reason where it cannot be. */
function exposedGc(): Collect | string {
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as unknown;
    if (typeof gc === 'function') return () => (gc as Collect)();
  } catch (err) {
    return (err as Error).message;
  }
  return 'gc() not exposed';
}

/** Bytes of ArrayBuffers (Buffers included) allocated now, live or not yet collected. */
function outsideHeapBytes(): number {
  return process.memoryUsage().arrayBuffers;
}

export interface ReleasedMemory {
  /**
   * `bytes` of request memory released, `heldBytes` still held by requests in flight: once
   * `afterBytes` were released since the last check, collects if that much is still allocated.
   */
  released(bytes: number, heldBytes: number): void;
  /** Collections made. */
  readonly collections: number;
  /** Checks that found the released memory already freed (V8 had collected it) and collected nothing. */
  readonly skipped: number;
}

export interface ReleasedMemoryOptions {
  /** How much outside-heap memory is allocated now (tests); `process.memoryUsage().arrayBuffers`. */
  outsideBytes?: () => number;
}

/** `afterBytes` 0 collects nothing (V8 decides alone). */
export function collectAfterReleases(afterBytes: number, opts: ReleasedMemoryOptions = {}): ReleasedMemory {
  const gc = afterBytes > 0 ? exposedGc() : undefined;
  const outside = opts.outsideBytes ?? outsideHeapBytes;
  let pending = 0;
  let held = 0;
  let scheduled = false;
  let collections = 0;
  let skipped = 0;
  // What a collection left allocated beyond the requests in flight: buffers alive for other reasons.
  let survivors = 0;
  const check = (): void => {
    scheduled = false;
    pending = 0;
    if (typeof gc !== 'function') return;
    const beyondRequests = Math.max(0, outside() - held);
    if (beyondRequests - survivors < afterBytes) {
      skipped++;
      // V8 collected on its own and fewer buffers are alive than we thought: a lower baseline.
      survivors = Math.min(survivors, beyondRequests);
      return;
    }
    collections++;
    gc();
    survivors = Math.max(0, outside() - held);
  };
  return {
    get collections() {
      return collections;
    },
    get skipped() {
      return skipped;
    },
    released(bytes: number, heldBytes: number): void {
      if (typeof gc !== 'function') return;
      pending += bytes;
      held = heldBytes;
      if (pending < afterBytes || scheduled) return;
      scheduled = true;
      // After the current request's work, so that what it just dropped is collected too.
      setImmediate(check);
    },
  };
}
