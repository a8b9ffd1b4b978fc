/**
 * Span times as OpenTelemetry's SDK takes them (`TimeInput`): `[seconds, nanoseconds]` as is, a
 * number below half the process's time origin as `performance.now()` time (no process runs that
 * long), any other number as epoch milliseconds, a Date as its epoch milliseconds. Kept as `[seconds, nanoseconds]` so that the epoch
 * nanoseconds OTLP wants (> 2^53) are exact.
 */
import type { HrTime, TimeInput } from '@opentelemetry/api';
import { performance } from 'node:perf_hooks';

const NANOS_PER_SECOND = 1_000_000_000;

function millisToHrTime(ms: number): HrTime {
  const seconds = Math.trunc(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1_000_000)];
}

function add(a: HrTime, b: HrTime): HrTime {
  let seconds = a[0] + b[0];
  let nanos = a[1] + b[1];
  if (nanos >= NANOS_PER_SECOND) {
    seconds += 1;
    nanos -= NANOS_PER_SECOND;
  }
  return [seconds, nanos];
}

const ORIGIN = millisToHrTime(performance.timeOrigin);

export function toHrTime(time: TimeInput | undefined): HrTime {
  if (time === undefined) return add(ORIGIN, millisToHrTime(performance.now()));
  if (Array.isArray(time)) return time as HrTime;
  if (typeof time === 'number') {
    return time < performance.timeOrigin / 2 ? add(ORIGIN, millisToHrTime(time)) : millisToHrTime(time);
  }
  return millisToHrTime((time as Date).getTime());
}

/** Epoch nanoseconds as a decimal string (OTLP/JSON). */
export function hrTimeToNanosString(t: HrTime): string {
  return (BigInt(t[0]) * 1_000_000_000n + BigInt(t[1])).toString();
}

/** Epoch nanoseconds as the low and high 32 bits of a uint64 (OTLP protobuf's fixed64). */
export function hrTimeToBits(t: HrTime): { low: number; high: number } {
  const n = BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);
  return { low: Number(n & 0xffffffffn), high: Number(n >> 32n) };
}
