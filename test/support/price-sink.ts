/**
 * Runs what an OTLP sink received through the collector's own pipeline (decode → extract → price),
 * so instrumentation tests can assert exact dollars without a storage round trip. Calls are
 * read as storage reads them: one per row key, the last written (a richer twin replaces the
 * record it was written over), in the order the keys were first written.
 */
import { decodeTraceRequest } from '../../collector/src/ingest/otlp/decode';
import { processTraceRequest } from '../../collector/src/ingest/pipeline';
import { Pricer, type PriceOverride } from '../../collector/src/pricing/pricer';
import type { PricedCall } from '../../collector/src/core/call';
import type { OtlpSink } from './otlp-sink';

export function pricedCallsFrom(sink: OtlpSink, overrides: PriceOverride[] = []): PricedCall[] {
  const pricer = new Pricer({ overrides });
  const rows = new Map<string, PricedCall>();
  for (const r of sink.requests) {
    if (!r.path.endsWith('/v1/traces')) continue;
    for (const c of processTraceRequest(decodeTraceRequest(r.body, r.contentType), pricer).calls) {
      rows.set(`${c.traceId} ${c.spanId} ${c.startTimeUnixNano}`, c);
    }
  }
  return [...rows.values()];
}
