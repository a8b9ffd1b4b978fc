/**
 * The W3C propagators tokenledger installs when the app has none: trace context (`traceparent`,
 * `tracestate`) and baggage, as https://www.w3.org/TR/trace-context/ and
 * https://www.w3.org/TR/baggage/ specify them, on the public API only (so they work with whichever
 * @opentelemetry/api line the app has).
 */
import {
  baggageEntryMetadataFromString,
  createTraceState,
  isSpanContextValid,
  propagation,
  trace,
  type BaggageEntry,
  type Context,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
} from '@opentelemetry/api';
import { isTracingSuppressed } from './suppress-tracing';

const TRACEPARENT = 'traceparent';
const TRACESTATE = 'tracestate';
const BAGGAGE = 'baggage';

const TRACEPARENT_RE =
  /^\s?((?!ff)[\da-f]{2})-((?![0]{32})[\da-f]{32})-((?![0]{16})[\da-f]{16})-([\da-f]{2})(-.*)?\s?$/;

/** Baggage limits of the W3C specification. */
const MAX_BAGGAGE_ENTRIES = 180;
const MAX_BAGGAGE_PAIR_BYTES = 4096;
const MAX_BAGGAGE_BYTES = 8192;

function oneHeader(value: string | string[] | undefined, join: boolean): string | undefined {
  if (Array.isArray(value)) return join ? value.join(',') : value[0];
  return value;
}

export class W3CTraceContextPropagator implements TextMapPropagator {
  inject(ctx: Context, carrier: unknown, setter: TextMapSetter): void {
    const sc = trace.getSpanContext(ctx);
    if (!sc || isTracingSuppressed(ctx) || !isSpanContextValid(sc)) return;
    const flags = (sc.traceFlags & 0xff).toString(16).padStart(2, '0');
    setter.set(carrier, TRACEPARENT, `00-${sc.traceId}-${sc.spanId}-${flags}`);
    const state = sc.traceState?.serialize();
    if (state) setter.set(carrier, TRACESTATE, state);
  }

  extract(ctx: Context, carrier: unknown, getter: TextMapGetter): Context {
    const header = oneHeader(getter.get(carrier, TRACEPARENT), false);
    if (!header) return ctx;
    const m = TRACEPARENT_RE.exec(header);
    // Version 00 has exactly four parts; a later version may add some.
    if (!m || (m[1] === '00' && m[5])) return ctx;
    const state = oneHeader(getter.get(carrier, TRACESTATE), true);
    return trace.setSpanContext(ctx, {
      traceId: m[2]!,
      spanId: m[3]!,
      traceFlags: parseInt(m[4]!, 16),
      isRemote: true,
      ...(state ? { traceState: createTraceState(state) } : {}),
    });
  }

  fields(): string[] {
    return [TRACEPARENT, TRACESTATE];
  }
}

export class W3CBaggagePropagator implements TextMapPropagator {
  inject(ctx: Context, carrier: unknown, setter: TextMapSetter): void {
    const baggage = propagation.getBaggage(ctx);
    if (!baggage || isTracingSuppressed(ctx)) return;
    const pairs: string[] = [];
    let bytes = 0;
    for (const [key, entry] of baggage.getAllEntries().slice(0, MAX_BAGGAGE_ENTRIES)) {
      let pair = `${encodeURIComponent(key)}=${encodeURIComponent(entry.value)}`;
      if (entry.metadata !== undefined) pair += `;${entry.metadata.toString()}`;
      if (pair.length > MAX_BAGGAGE_PAIR_BYTES) continue;
      if (bytes + pair.length + (pairs.length > 0 ? 1 : 0) > MAX_BAGGAGE_BYTES) break;
      bytes += pair.length + (pairs.length > 0 ? 1 : 0);
      pairs.push(pair);
    }
    if (pairs.length > 0) setter.set(carrier, BAGGAGE, pairs.join(','));
  }

  extract(ctx: Context, carrier: unknown, getter: TextMapGetter): Context {
    const header = oneHeader(getter.get(carrier, BAGGAGE), true);
    if (!header) return ctx;
    const entries: Record<string, BaggageEntry> = {};
    let found = false;
    for (const item of header.split(',')) {
      const [pair, ...properties] = item.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (!pair || eq <= 0) continue;
      try {
        const key = decodeURIComponent(pair.slice(0, eq).trim());
        const value = decodeURIComponent(pair.slice(eq + 1).trim());
        if (!key) continue;
        entries[key] =
          properties.length > 0
            ? { value, metadata: baggageEntryMetadataFromString(properties.join(';')) }
            : { value };
        found = true;
      } catch {
        // a malformed entry is skipped
      }
    }
    return found ? propagation.setBaggage(ctx, propagation.createBaggage(entries)) : ctx;
  }

  fields(): string[] {
    return [BAGGAGE];
  }
}

/** Several propagators as one: each injects and extracts in turn. */
export class CompositePropagator implements TextMapPropagator {
  constructor(private readonly propagators: TextMapPropagator[]) {}

  inject(ctx: Context, carrier: unknown, setter: TextMapSetter): void {
    for (const p of this.propagators) {
      try {
        p.inject(ctx, carrier, setter);
      } catch {
        // one propagator failing must not stop the others
      }
    }
  }

  extract(ctx: Context, carrier: unknown, getter: TextMapGetter): Context {
    return this.propagators.reduce((c, p) => {
      try {
        return p.extract(c, carrier, getter);
      } catch {
        return c;
      }
    }, ctx);
  }

  fields(): string[] {
    return [...new Set(this.propagators.flatMap((p) => p.fields()))];
  }
}
