/**
 * What the producer suites (test/collector/producers*.test.ts) set up around their fixture apps: a
 * fake OpenAI server and an OTLP sink, reset before each test; and a real collector process with
 * one admin key, whose spend report a test reads.
 */
import assert from 'node:assert/strict';
import { startCollectorProcess, type CollectorProcess } from './collector-process';
import { startFakeOpenAI, type FakeOpenAI, type FakeUsage } from './fake-openai';
import { startOtlpSink, type OtlpSink } from './otlp-sink';

/**
 * Starts the fake OpenAI server (answering with `usage`) and the sink for the suite, resets both
 * before each test; `started` hands them to the suite.
 */
export function useProducerServers(
  usage: Partial<FakeUsage>,
  started: (fake: FakeOpenAI, sink: OtlpSink) => void,
): void {
  let fake: FakeOpenAI;
  let sink: OtlpSink;
  before(async () => {
    fake = await startFakeOpenAI();
    sink = await startOtlpSink();
    started(fake, sink);
  });
  after(async () => {
    await sink.close();
    await fake.close();
  });
  beforeEach(() => {
    fake.reset();
    sink.reset();
    fake.setUsage(usage);
  });
}

export interface SpendReport {
  total_usd: string;
  breakdown: Array<Record<string, unknown>>;
}

export interface KeyedCollector {
  readonly url: string;
  /** OTEL_EXPORTER_OTLP_HEADERS for an app exporting to this collector. */
  readonly otlpHeaders: string;
  /** GET /v1/reports/spend?{query} with the admin key; asserts a 200. */
  spendReport(query: string): Promise<SpendReport>;
}

/** A collector process for the suite (stopped after it) that accepts the admin API key `key`. */
export function useCollectorProcess(key: string): KeyedCollector {
  let collector: CollectorProcess;
  before(async () => {
    collector = await startCollectorProcess({ env: { TOKENLEDGER_API_KEYS: `admin:${key}` } });
  });
  after(async () => {
    await collector.stop();
  });
  return {
    get url() {
      return collector.url;
    },
    otlpHeaders: `Authorization=Bearer ${key}`,
    async spendReport(query) {
      const res = await fetch(`${collector.url}/v1/reports/spend?${query}`, {
        headers: { authorization: `Bearer ${key}` },
      });
      assert.equal(res.status, 200);
      return (await res.json()) as SpendReport;
    },
  };
}
