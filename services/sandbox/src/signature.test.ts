import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { verifySandboxSignature } from "./client";
import { signSandboxEvent, sandboxEvent } from "./server/webhooks";
import { sandboxWebhookSecret } from "./signature";

describe("sandbox webhook signatures", () => {
  const derive = (apiKey: string) => "whsec_" + createHmac("sha256", apiKey).update("sandbox webhook secret").digest("base64url");

  it("derives each key's secret the same way every time, however many keys a process has used", () => {
    const first = "sk_sandbox_first0000000000000001";
    expect(sandboxWebhookSecret(first)).toBe(derive(first));
    expect(sandboxWebhookSecret("sk_sandbox_other0000000000000001")).not.toBe(sandboxWebhookSecret(first));
    for (let i = 0; i < 1500; i += 1) {
      const key = `sk_sandbox_many${String(i).padStart(17, "0")}`;
      expect(sandboxWebhookSecret(key)).toBe(derive(key));
    }
    expect(sandboxWebhookSecret(first)).toBe(derive(first));
  });

  it("verifies what the sandbox signed with the same key, and refuses another key's signature or a changed body", () => {
    const apiKey = "sk_sandbox_signer000000000000001";
    const { body, headers } = signSandboxEvent(apiKey, sandboxEvent("payment.succeeded", { id: "pay_1" }));
    const url = "http://127.0.0.1/webhooks/sandbox";
    const input = { url, headers, rawBody: Buffer.from(body) };
    expect(() => verifySandboxSignature("sandbox", apiKey, input)).not.toThrow();
    expect(() => verifySandboxSignature("sandbox", "sk_sandbox_another00000000000001", input)).toThrow(/does not match/);
    expect(() => verifySandboxSignature("sandbox", apiKey, { url, headers, rawBody: Buffer.from(body.replace("pay_1", "pay_2")) })).toThrow(/does not match/);
  });
});
