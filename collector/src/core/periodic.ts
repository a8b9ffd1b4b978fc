/**
 * Background work on a timer: run now and every `everyMs`; a run still going makes a tick skip
 * (never two at once); a failure is reported, never thrown; stop() lets the run in flight finish,
 * so the storage is not closed under it. The timer never keeps the process alive.
 */
export class Periodic {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly work: () => Promise<unknown>,
    private readonly onError: (err: Error) => void,
  ) {}

  start(everyMs: number): void {
    this.timer = setInterval(this.tick, everyMs);
    this.timer.unref();
    this.tick();
  }

  /** No run starts after this; resolves once the one in flight (if any) is done. */
  stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
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
