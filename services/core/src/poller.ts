import type { Logger } from "./logging";

// Runs `step` over and over: straight away while it reports more work, every
// `intervalMs` when idle, after `errorBackoffMs` when it throws. stop() waits
// for the step in progress.
export class Poller {
  private running = false;
  private loop: Promise<void> | undefined;
  private endSleep: (() => void) | undefined;

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

  // Ends an idle wait early.
  wake(): void {
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
      try {
        if (!(await this.step())) pause = this.options.intervalMs;
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
