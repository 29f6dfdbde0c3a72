import { describe, expect, it } from "vitest";
import { ConnectorError, sdkLoadedOnFirstCall } from "./connector-kit";

describe("sdkLoadedOnFirstCall", () => {
  it("imports nothing until a call asks, then once for every call", async () => {
    let imports = 0;
    const sdk = sdkLoadedOnFirstCall("stripe", async () => ({ imported: ++imports }));
    expect(imports).toBe(0);
    const answers = await Promise.all([sdk(), sdk(), sdk()]);
    expect(await sdk()).toBe(answers[0]);
    expect(answers.every((answer) => answer === answers[0])).toBe(true);
    expect(imports).toBe(1);
  });

  it("fails a call whose SDK cannot be imported as not processed, and imports again on the next", async () => {
    let imports = 0;
    const sdk = sdkLoadedOnFirstCall("twilio", async () => {
      imports += 1;
      if (imports === 1) throw new Error("Cannot find package 'twilio'");
      return "loaded";
    });
    const failure = await sdk().catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ConnectorError);
    expect(failure).toMatchObject({ kind: "not_processed", provider: "twilio", details: { reason: "PROVIDER_UNAVAILABLE" } });
    expect((failure as Error).message).toContain("Cannot find package 'twilio'");
    expect(await sdk()).toBe("loaded");
    expect(imports).toBe(2);
  });
});
