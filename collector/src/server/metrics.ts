/** The collector's own counters, exposed at /metrics in Prometheus text format. */
export class CollectorMetrics {
  readonly counters = {
    tokenledger_spans_received_total: 0,
    tokenledger_spans_rejected_total: 0,
    tokenledger_calls_stored_total: 0,
    tokenledger_calls_duplicate_total: 0,
    tokenledger_calls_unpriced_total: 0,
    tokenledger_otlp_decode_errors_total: 0,
    tokenledger_storage_errors_total: 0,
  };

  add(name: keyof CollectorMetrics['counters'], n = 1): void {
    this.counters[name] += n;
  }

  render(): string {
    return (
      Object.entries(this.counters)
        .map(([name, value]) => `# TYPE ${name} counter\n${name} ${value}`)
        .join('\n') + '\n'
    );
  }
}
