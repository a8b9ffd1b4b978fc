/**
 * Collects V8's garbage once OTLP requests have released enough memory (decision 0119).
 *
 * A request body is a Buffer whose bytes live outside V8's heap. When the request is done, the
 * bytes stay allocated until a collection finds the Buffer unreachable, and V8 starts a full
 * collection for outside memory only after it grew by about 64 MiB since the last one: in a flood
 * the bodies already released held as much again as the ingest budget (48 MiB) allows in flight.
 * Counting what requests release and collecting after every `afterBytes` of it bounds that garbage
 * to `afterBytes`, at the cost of one collection per that much ingested.
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

export interface ReleasedMemory {
  /** `bytes` of request memory released: collects once `afterBytes` have been since the last. */
  released(bytes: number): void;
  /** Collections made. */
  readonly collections: number;
}

/** `afterBytes` 0 collects nothing (V8 decides alone). */
export function collectAfterReleases(afterBytes: number): ReleasedMemory {
  const gc = afterBytes > 0 ? exposedGc() : undefined;
  let pending = 0;
  let scheduled = false;
  let collections = 0;
  return {
    get collections() {
      return collections;
    },
    released(bytes: number): void {
      if (typeof gc !== 'function') return;
      pending += bytes;
      if (pending < afterBytes || scheduled) return;
      scheduled = true;
      // After the current request's work, so that what it just dropped is collected too.
      setImmediate(() => {
        scheduled = false;
        pending = 0;
        collections++;
        gc();
      });
    },
  };
}
