/**
 * Sustained retrying ingest: N senders each POST an OTLP/JSON batch of GenAI spans and retry it —
 * on a refused connection, a cut answer, 429 or 503 — until it is answered 200, as an OTLP exporter
 * does, then send the next. Every span of a batch answered 200 is recorded as acknowledged: the
 * figure the collector must never lose.
 */
import { randomBytes } from 'node:crypto';
import { HOUR_MS } from './reports';

export interface LoadOptions {
  /** The collector's base URL (stable across restarts: a fixed port). */
  url: string;
  ingestKey: string;
  senders: number;
  spansPerBatch: number;
  /**
   * Start time (ms) of the span at `index` in a batch. Scenarios spread spans over past hours to
   * reach data that the rollup has sealed, as retries, slow calls and background responses do.
   */
  startTimeMs: (index: number) => number;
  /** Wait between retries of one batch (ms); Retry-After is honoured up to this. */
  retryDelayMs?: number;
}

export interface LoadFigures {
  acknowledged: number;
  batches: number;
  /** Attempts answered anything but 200 or a network error (a 503, 429, connection refused...). */
  retries: number;
  /** Answers that are neither 200 nor retryable (4xx/5xx other than 429/503): never expected. */
  unexpected: string[];
  /** 503 answers, and how many of them came without a Retry-After. */
  refused: number;
  refusedWithoutRetryAfter: number;
}

const TEAMS = ['search', 'support', 'growth', 'platform'];
const FEATURES = ['summarizer', 'chat', 'classify'];
const MODELS = ['gpt-4o-mini', 'gpt-4o', 'gpt-4.1-mini'];

const attr = (key: string, value: string | number) =>
  typeof value === 'number'
    ? { key, value: { intValue: String(value) } }
    : { key, value: { stringValue: value } };

export class RetryingLoad {
  /** `traceId + spanId` of every span acknowledged with 200. */
  readonly acknowledged = new Set<string>();
  private readonly nonce = randomBytes(4).toString('hex');
  private counter = 0;
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly inFlight = new Map<number, number>();
  private figures = {
    batches: 0,
    retries: 0,
    unexpected: [] as string[],
    refused: 0,
    refusedWithoutRetryAfter: 0,
  };

  constructor(private readonly options: LoadOptions) {}

  start(): void {
    this.running = true;
    this.loops = Array.from({ length: this.options.senders }, (_, i) => this.sender(i));
  }

  /** Stops sending new batches; resolves once every batch in flight was answered 200. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** True once no batch first sent before `sinceMs` is still waiting for its 200. */
  settledSince(sinceMs: number): boolean {
    for (const first of this.inFlight.values()) if (first < sinceMs) return false;
    return true;
  }

  get totals(): LoadFigures {
    return {
      acknowledged: this.acknowledged.size,
      ...this.figures,
      unexpected: [...this.figures.unexpected],
    };
  }

  private batch(): { body: string; keys: string[] } {
    const spans = [];
    const keys: string[] = [];
    for (let i = 0; i < this.options.spansPerBatch; i++) {
      const n = ++this.counter;
      const traceId = this.nonce + n.toString(16).padStart(24, '0');
      const spanId = n.toString(16).padStart(16, '0');
      const start = BigInt(Math.round(this.options.startTimeMs(i))) * 1_000_000n + BigInt(n % 1_000_000);
      keys.push(traceId + spanId);
      const model = MODELS[n % MODELS.length]!;
      spans.push({
        traceId,
        spanId,
        name: `chat ${model}`,
        kind: 3,
        startTimeUnixNano: start.toString(),
        endTimeUnixNano: (start + 800_000_000n).toString(),
        attributes: [
          attr('gen_ai.operation.name', 'chat'),
          attr('gen_ai.provider.name', 'openai'),
          attr('gen_ai.request.model', model),
          attr('gen_ai.usage.input_tokens', 10 + (n % 1990)),
          attr('gen_ai.usage.output_tokens', 1 + (n % 499)),
          attr('tokenledger.team', TEAMS[n % TEAMS.length]!),
          attr('tokenledger.feature', FEATURES[n % FEATURES.length]!),
          attr('tokenledger.environment', 'production'),
        ],
      });
    }
    const body = JSON.stringify({
      resourceSpans: [
        {
          resource: { attributes: [attr('service.name', 'fault-suite')] },
          scopeSpans: [{ scope: { name: 'tokenledger' }, spans }],
        },
      ],
    });
    return { body, keys };
  }

  private async sender(id: number): Promise<void> {
    const retryDelay = this.options.retryDelayMs ?? 250;
    while (this.running) {
      const { body, keys } = this.batch();
      this.inFlight.set(id, Date.now());
      for (;;) {
        let wait = retryDelay;
        try {
          const res = await fetch(`${this.options.url}/v1/traces`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              authorization: `Bearer ${this.options.ingestKey}`,
            },
            body,
            signal: AbortSignal.timeout(30_000),
          });
          const text = await res.text();
          if (res.status === 200) {
            for (const k of keys) this.acknowledged.add(k);
            this.figures.batches++;
            break;
          }
          if (res.status !== 429 && res.status !== 503) {
            this.figures.unexpected.push(`HTTP ${res.status}: ${text.slice(0, 200)}`);
            break;
          }
          if (res.status === 503) {
            this.figures.refused++;
            if (!res.headers.get('retry-after')) this.figures.refusedWithoutRetryAfter++;
          }
          const after = Number(res.headers.get('retry-after'));
          if (Number.isFinite(after) && after > 0) wait = Math.min(after * 1000, retryDelay * 4);
        } catch {
          // Refused, reset or timed out: the collector is down or was killed mid-answer.
        }
        this.figures.retries++;
        await new Promise((r) => setTimeout(r, wait));
      }
      this.inFlight.delete(id);
    }
  }
}

/**
 * Start times for half the spans now and half in a past hour, `hoursAgo()` hours before the current
 * one (sealed by the rollup); each past hour written is added to `hours`. A scenario moves the past
 * hour after its fault, so the hour the fault cut can be compared with its raw calls.
 */
export function nowAndPastHour(hoursAgo: () => number, hours: Set<number>): (index: number) => number {
  return (i) => {
    if (i % 2 === 0) return Date.now() - Math.random() * 1000;
    const hour = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - hoursAgo() * HOUR_MS;
    hours.add(hour);
    return hour + Math.random() * (HOUR_MS - 2000);
  };
}
