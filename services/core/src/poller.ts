import type { Logger } from "./logging";

// Runs `step` over and over: straight away while it reports more work or was
// woken during the step, every `intervalMs` when idle, after `errorBackoffMs`
// when it throws. stop() waits for the step in progress.
export class Poller {
  private running = false;
  private loop: Promise<void> | undefined;
  private endSleep: (() => void) | undefined;
  // Set by wake(): what woke it may have come after the step looked.
  private woken = false;

  constructor(
    private readonly name: string,
    private readonly step: () => Promise<boolean>,
    private readonly options: { intervalMs: number; errorBackoffMs: number; logger: Logger },
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  // Ends an idle wait early, or has the step run again straight after the current one.
  wake(): void {
    this.woken = true;
    this.endSleep?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      let pause = 0;
      this.woken = false;
      try {
        if (!(await this.step()) && !this.woken) pause = this.options.intervalMs;
      } catch (err) {
        this.options.logger.warn({ err }, `${this.name} failed; retrying`);
        pause = this.options.errorBackoffMs;
      }
      if (pause > 0 && this.running) await this.sleep(pause);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.endSleep = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.endSleep = done;
    });
  }
}
