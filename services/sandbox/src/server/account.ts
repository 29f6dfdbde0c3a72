import { createHash } from "node:crypto";
import type { EmulatorReply } from "../emulator-harness";
import type { Payment } from "./objects";
import { emitSandboxEvent } from "./webhooks";
import { SandboxError } from "./wire";

// Every well-formed API key is its own account, created on first use, so a
// new tenant needs no setup.
export class SandboxAccount {
  readonly payments = new Map<string, Payment>();
  // Idempotency-Key -> the request's fingerprint and the answer it got.
  readonly idempotency = new Map<string, { fingerprint: string; reply: EmulatorReply }>();

  constructor(readonly apiKey: string) {}

  payment(id: string): Payment {
    const payment = this.payments.get(id);
    if (!payment) throw new SandboxError(404, "resource_missing", `No such payment: ${id}`);
    return payment;
  }

  emit(type: string, object: unknown, webhookUrl: string | undefined): void {
    emitSandboxEvent(this.apiKey, type, object, webhookUrl);
  }

  json() {
    return {
      id: `acct_sbx_${createHash("sha256").update(this.apiKey).digest("hex").slice(0, 16)}`,
      object: "account",
      livemode: false,
    };
  }
}
