/**
 * Start-up against a ClickHouse that may not be there yet: the collector listens at once and
 * answers 503 "starting: …" while this waits for the engine — each attempt bounded (a server that
 * accepts connections and never answers must not hold start-up), a log line every 10 s — then runs
 * `prepare` (migrations and the like). An engine that answers with an error (wrong password, no
 * rights) is not waited for: that is a configuration to fix, and start-up fails with it.
 */
import type { Storage } from './client';
import { isRefusedByEngine } from './errors';

/** One attempt to reach the engine, connect and answer together. */
const ATTEMPT_TIMEOUT_MS = 5_000;
const RETRY_EVERY_MS = 1_000;
const LOG_EVERY_MS = 10_000;

export class StorageStartup {
  private readonly since = Date.now();
  private problem = 'connecting';
  private ready = false;
  private stopped = false;

  constructor(
    private readonly storage: Storage,
    private readonly log: (line: string) => void,
  ) {}

  /** Undefined once ready; else what /healthz and every other route answer (503). */
  get starting(): string | undefined {
    if (this.ready) return undefined;
    return `starting: ClickHouse ${this.problem} (${Math.round((Date.now() - this.since) / 1000)} s)`;
  }

  /** Makes `run` give up (the collector is stopping before it was ready). */
  stop(): void {
    this.stopped = true;
  }

  /** Resolves once the engine answered and `prepare` succeeded; rejects on an engine error. */
  async run(prepare: () => Promise<void>): Promise<void> {
    let reminder: NodeJS.Timeout | undefined;
    const say = (): void =>
      this.log(`tokenledger: ${this.starting!.slice('starting: '.length)}; retrying, /healthz answers 503`);
    try {
      for (;;) {
        if (this.stopped) throw new Error('stopped while waiting for ClickHouse');
        try {
          await this.probe();
          await prepare();
          this.ready = true;
          return;
        } catch (err) {
          if (isRefusedByEngine(err)) throw err;
          this.problem = problemOf(err);
          if (!reminder) {
            // Said at the first failure, then every LOG_EVERY_MS while it lasts.
            say();
            reminder = setInterval(say, LOG_EVERY_MS).unref();
          }
          await new Promise((resolve) => setTimeout(resolve, RETRY_EVERY_MS));
        }
      }
    } finally {
      clearInterval(reminder);
    }
  }

  private async probe(): Promise<void> {
    const rs = await this.storage.client.query({
      query: 'SELECT 1',
      format: 'JSONEachRow',
      abort_signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
    });
    await rs.json();
  }
}

/** "not answering" (timed out) or "not reachable: ECONNREFUSED" (the connection failed). */
function problemOf(err: unknown): string {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code && /^E[A-Z]+$/.test(code) && code !== 'ETIMEDOUT') return `not reachable: ${code}`;
    if (e.name === 'AbortError' || e.name === 'TimeoutError' || /abort|timeout/i.test(e.message))
      return 'not answering';
  }
  return `not ready: ${(err as Error).message.split('\n')[0]}`;
}
