import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "./logging";
import { Poller } from "./poller";

const logger = createLogger("silent");
// Far longer than any test waits: a step here runs only when woken or when more is waiting.
const neverPollMs = 600_000;
const gapMs = 300;

describe("Poller", () => {
  let poller: Poller | undefined;
  afterEach(async () => {
    await poller?.stop();
    poller = undefined;
  });

  // Starts a poller whose steps are recorded; `more` says what each step reports.
  function recordSteps(options: { minGapMs?: number }, more: (step: number) => boolean = () => false) {
    const starts: number[] = [];
    let stepped: () => void = () => {};
    poller = new Poller(
      "test",
      async () => {
        starts.push(performance.now());
        stepped();
        return more(starts.length);
      },
      { intervalMs: neverPollMs, errorBackoffMs: neverPollMs, logger, ...options },
    );
    const steps = (count: number) =>
      new Promise<void>((resolve) => {
        stepped = () => {
          if (starts.length >= count) resolve();
        };
        stepped();
      });
    poller.start();
    return { starts, steps };
  }

  it("runs a step for each wake-up at once when there is no gap", async () => {
    const { starts, steps } = recordSteps({});
    await steps(1);
    poller!.wake();
    await steps(2);
    poller!.wake();
    await steps(3);
    expect(starts).toHaveLength(3);
  });

  it("takes the wake-ups that come within the gap in one step, once the gap has passed", async () => {
    const { starts, steps } = recordSteps({ minGapMs: gapMs });
    await steps(1);
    poller!.wake();
    poller!.wake();
    poller!.wake();
    await steps(2);
    // Timers may fire a little early against performance.now(); no gap at all would be about 0.
    expect(starts[1]! - starts[0]!).toBeGreaterThan(gapMs / 2);
    // Longer than the gap: the three wake-ups were one step.
    await new Promise((resolve) => setTimeout(resolve, gapMs * 2));
    expect(starts).toHaveLength(2);
  });

  it("runs at once when woken after the gap has passed", async () => {
    const { starts, steps } = recordSteps({ minGapMs: gapMs });
    await steps(1);
    await new Promise((resolve) => setTimeout(resolve, gapMs + 50));
    const woken = performance.now();
    poller!.wake();
    await steps(2);
    expect(starts[1]! - woken).toBeLessThan(gapMs);
  });

  it("runs straight after a step that reports more work, whatever the gap", async () => {
    // Three steps with more, then one without: four steps with no wake-up and no gap between them.
    const { starts, steps } = recordSteps({ minGapMs: gapMs }, (step) => step < 4);
    await steps(4);
    expect(starts[3]! - starts[0]!).toBeLessThan(gapMs);
  });

  it("stops without waiting out a gap", async () => {
    const { starts, steps } = recordSteps({ minGapMs: gapMs * 10 });
    await steps(1);
    poller!.wake();
    // In the gap now.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const stopping = performance.now();
    await poller!.stop();
    poller = undefined;
    expect(performance.now() - stopping).toBeLessThan(gapMs);
    expect(starts).toHaveLength(1);
  });
});
