import type { Logger } from "./logging";

export interface PollerOptions {
  intervalMs: number;
  errorBackoffMs: number;
  logger: Logger;
  // Steps begin at least this far apart, unless the last one reported more
  // work: a wake-up that comes sooner waits for the rest, so a stream of
  // wake-ups is taken in batches instead of a step for each.
  minGapMs?: number;
}

// Runs `step` over and over: straight away while it reports more work, as
// soon as `minGapMs` allows when woken, every `intervalMs` when idle, after
// `errorBackoffMs` when it throws. stop() waits for the step in progress.
export class Poller {
  private running = false;
  private loop: Promise<void> | undefined;
  private endWait: (() => void) | undefined;
  // Whether wake() ends the current wait: an idle one, not a gap's.
  private wakeEndsWait = false;
  // Set by wake(): what woke it may have come after the step looked.
  private woken = false;

  constructor(
    private readonly name: string,
    private readonly step: () => Promise<boolean>,
    private readonly options: PollerOptions,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  // Ends an idle wait early, or has the step run again after the current one.
  wake(): void {
    this.woken = true;
    if (this.wakeEndsWait) this.endWait?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.endWait?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    let lastStart = -Infinity;
    let more = false;
    while (this.running) {
      const gapLeft = more ? 0 : lastStart + (this.options.minGapMs ?? 0) - performance.now();
      if (gapLeft > 0) await this.wait(gapLeft, false);
      if (!this.running) return;
      let pause = 0;
      this.woken = false;
      more = false;
      lastStart = performance.now();
      try {
        more = await this.step();
        if (!more && !this.woken) pause = this.options.intervalMs;
      } catch (err) {
        this.options.logger.warn({ err }, `${this.name} failed; retrying`);
        pause = this.options.errorBackoffMs;
      }
      if (pause > 0 && this.running) await this.wait(pause, true);
    }
  }

  private wait(ms: number, endedByWake: boolean): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.endWait = undefined;
        this.wakeEndsWait = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.endWait = done;
      this.wakeEndsWait = endedByWake;
    });
  }
}
