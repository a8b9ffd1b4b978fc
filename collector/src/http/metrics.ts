/** The collector's own counters, exposed at /metrics in Prometheus text format. */
const HELP = {
  tokenledger_spans_received_total: 'Spans received in OTLP requests that decoded.',
  tokenledger_spans_rejected_total: 'Spans refused under OTLP partial success (bad ids or timestamps).',
  tokenledger_calls_stored_total: 'LLM calls stored (new spans).',
  tokenledger_calls_duplicate_total: 'LLM calls skipped because the span was already stored (retries).',
  tokenledger_calls_unpriced_total: 'LLM calls received whose model has no price (stored with cost 0).',
  tokenledger_calls_replaced_total:
    'Stored calls replaced by a richer record of the same call from another producer (a late twin).',
  tokenledger_otlp_decode_errors_total: 'OTLP requests refused as malformed or of an unknown media type.',
  tokenledger_storage_errors_total: 'OTLP requests answered 503 because ClickHouse failed.',
  tokenledger_otlp_throttled_total:
    'OTLP requests answered 429 because too many calls were waiting to be stored.',
  tokenledger_otlp_refused_total:
    'OTLP requests answered 503 before storing: low disk space, a full journal, or ClickHouse not ready.',
  tokenledger_otlp_memory_shed_total:
    'OTLP requests answered 429 because the memory for requests in flight (TOKENLEDGER_MAX_INGEST_BYTES) was full.',
  tokenledger_otlp_too_large_total:
    'OTLP requests answered 413: a body over TOKENLEDGER_MAX_BODY_BYTES, or one that would take more than TOKENLEDGER_MAX_INGEST_BYTES to decode.',
  tokenledger_calls_truncated_total:
    'Rows stored with a value cut to TOKENLEDGER_MAX_ATTRIBUTE_LENGTH characters (flagged truncated).',
  tokenledger_calls_out_of_scope_total:
    "LLM calls whose attribution was outside their ingest key's scope (recorded under the scope, flagged).",
  tokenledger_outcomes_out_of_scope_total:
    "Business outcomes attributed outside their ingest key's scope (recorded under the scope, flagged).",
} as const;

export type CounterName = keyof typeof HELP;

interface Gauge {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  read: () => number | undefined;
}

export class CollectorMetrics {
  readonly counters = Object.fromEntries(Object.keys(HELP).map((k) => [k, 0])) as Record<CounterName, number>;
  private readonly gauges: Gauge[] = [];

  constructor() {
    // The process's memory, under the names Prometheus' Node.js clients use: what holds the
    // collector's memory ceiling apart (V8's heap, buffers outside it, the rest: the engine's).
    this.gauge('process_resident_memory_bytes', 'Resident memory of the collector process.', () =>
      process.memoryUsage.rss(),
    );
    this.gauge('nodejs_heap_size_used_bytes', 'V8 heap in use.', () => process.memoryUsage().heapUsed);
    this.gauge('nodejs_heap_size_total_bytes', 'V8 heap reserved.', () => process.memoryUsage().heapTotal);
    this.gauge(
      'nodejs_external_memory_bytes',
      'Memory outside the V8 heap held by JavaScript objects (request bodies among it).',
      () => process.memoryUsage().external,
    );
  }

  add(name: CounterName, n = 1): void {
    this.counters[name] += n;
  }

  /** A figure read when /metrics is asked (undefined: not known yet, left out). */
  gauge(name: string, help: string, read: () => number | undefined, type: Gauge['type'] = 'gauge'): void {
    this.gauges.push({ name, help, type, read });
  }

  render(): string {
    const counters = (Object.keys(HELP) as CounterName[]).map(
      (name) => `# HELP ${name} ${HELP[name]}\n# TYPE ${name} counter\n${name} ${this.counters[name]}`,
    );
    const gauges = this.gauges.flatMap((g) => {
      const value = g.read();
      return value === undefined
        ? []
        : [`# HELP ${g.name} ${g.help}\n# TYPE ${g.name} ${g.type}\n${g.name} ${value}`];
    });
    return [...counters, ...gauges].join('\n') + '\n';
  }
}
