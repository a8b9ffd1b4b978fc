/**
 * Background work on a timer: run every `everyMs` (the first time after `firstAfterMs`, 0: now); a
 * run still going makes a tick skip
 * (never two at once); a failure is reported, never thrown; stop() lets the run in flight finish,
 * so the storage is not closed under it. The timer never keeps the process alive.
 */
export class Periodic {
  private timer: NodeJS.Timeout | undefined;
  private first: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly work: () => Promise<unknown>,
    private readonly onError: (err: Error) => void,
  ) {}

  start(everyMs: number, firstAfterMs = 0): void {
    this.timer = setInterval(this.tick, everyMs);
    this.timer.unref();
    if (firstAfterMs <= 0) this.tick();
    else if (firstAfterMs < everyMs) {
      this.first = setTimeout(this.tick, firstAfterMs);
      this.first.unref();
    }
  }

  /** No run starts after this; resolves once the one in flight (if any) is done. */
  stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.first);
    return this.running ?? Promise.resolve();
  }

  private readonly tick = (): void => {
    if (this.running || this.stopped) return;
    this.running = this.work()
      .then(
        () => undefined,
        (err: unknown) => this.onError(err as Error),
      )
      .finally(() => (this.running = undefined));
  };
}
