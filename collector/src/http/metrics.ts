/** The collector's own counters, exposed at /metrics in Prometheus text format. */
const HELP = {
  tokenledger_spans_received_total: 'Spans received in OTLP requests that decoded.',
  tokenledger_spans_rejected_total: 'Spans refused under OTLP partial success (bad ids or timestamps).',
  tokenledger_calls_stored_total: 'LLM calls stored (new spans).',
  tokenledger_calls_duplicate_total: 'LLM calls skipped because the span was already stored (retries).',
  tokenledger_calls_unpriced_total: 'LLM calls received whose model has no price (stored with cost 0).',
  tokenledger_otlp_decode_errors_total: 'OTLP requests refused as malformed or of an unknown media type.',
  tokenledger_storage_errors_total: 'OTLP requests answered 503 because ClickHouse failed.',
  tokenledger_otlp_throttled_total:
    'OTLP requests answered 429 because too many calls were waiting to be stored.',
  tokenledger_calls_out_of_scope_total:
    "LLM calls whose attribution was outside their ingest key's scope (recorded under the scope, flagged).",
  tokenledger_outcomes_out_of_scope_total:
    "Business outcomes attributed outside their ingest key's scope (recorded under the scope, flagged).",
} as const;

export type CounterName = keyof typeof HELP;

export class CollectorMetrics {
  readonly counters = Object.fromEntries(Object.keys(HELP).map((k) => [k, 0])) as Record<CounterName, number>;

  add(name: CounterName, n = 1): void {
    this.counters[name] += n;
  }

  render(): string {
    return (
      (Object.keys(HELP) as CounterName[])
        .map((name) => `# HELP ${name} ${HELP[name]}\n# TYPE ${name} counter\n${name} ${this.counters[name]}`)
        .join('\n') + '\n'
    );
  }
}
