import { createHash } from "node:crypto";
import type { EmulatorReply } from "../emulator-harness";
import { Kept, type KeptLimits } from "./kept";
import type { Payment } from "./objects";
import { emitSandboxEvent } from "./webhooks";
import { SandboxError } from "./wire";

// What one sandbox keeps, for every account alike, bounded (see kept.ts).
export class SandboxMemory {
  // Payment id -> the payment and the API key it belongs to.
  readonly payments: Kept<{ apiKey: string; payment: Payment }>;
  // API key and Idempotency-Key -> the request's fingerprint and the answer it got.
  readonly idempotency: Kept<{ fingerprint: string; reply: EmulatorReply }>;

  constructor(
    readonly limits: KeptLimits,
    readonly now?: () => number,
  ) {
    this.payments = new Kept(limits, now);
    this.idempotency = new Kept(limits, now);
  }
}

// Every well-formed API key is its own account, created on first use, so a
// new tenant needs no setup. An account is a view of the sandbox's memory
// limited to what its key made.
export class SandboxAccount {
  constructor(
    readonly apiKey: string,
    private readonly memory: SandboxMemory,
  ) {}

  payment(id: string): Payment {
    const kept = this.memory.payments.get(id);
    if (!kept || kept.apiKey !== this.apiKey) throw new SandboxError(404, "resource_missing", `No such payment: ${id}`);
    return kept.payment;
  }

  keepPayment(payment: Payment): void {
    this.memory.payments.add(payment.id, { apiKey: this.apiKey, payment });
  }

  paymentsNewestFirst(): Payment[] {
    return this.memory.payments
      .newestFirst()
      .filter((kept) => kept.apiKey === this.apiKey)
      .map((kept) => kept.payment);
  }

  idempotentReply(key: string): { fingerprint: string; reply: EmulatorReply } | undefined {
    return this.memory.idempotency.get(`${this.apiKey}\n${key}`);
  }

  keepIdempotentReply(key: string, fingerprint: string, reply: EmulatorReply): void {
    this.memory.idempotency.add(`${this.apiKey}\n${key}`, { fingerprint, reply });
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
