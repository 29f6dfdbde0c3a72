import type { Logger } from "@onerouter/core";

// A background round of work run at start and then every interval, one
// round at a time. Stopping never waits for a provider: the round's signal
// aborts, so calls still out are abandoned and their results dropped.
export abstract class PeriodicWork {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private controller = new AbortController();

  constructor(
    private readonly what: string,
    private readonly intervalMs: number,
    private readonly logger?: Logger,
  ) {}

  protected abstract round(signal: AbortSignal): Promise<void>;

  start(): void {
    if (this.timer) return;
    this.controller = new AbortController();
    const run = () => {
      this.running ??= this.round(this.controller.signal)
        .catch((err: unknown) => this.logger?.error({ err }, `${this.what} failed`))
        .finally(() => (this.running = undefined));
    };
    run();
    this.timer = setInterval(run, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    this.controller.abort();
    await this.running;
  }
}

// The call's result, or undefined once the signal aborts first.
export function unlessAborted<T>(signal: AbortSignal, call: Promise<T>): Promise<{ value: T } | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener("abort", onAbort, { once: true });
    call.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve({ value });
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}
