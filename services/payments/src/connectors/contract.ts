import { describe, expect, it } from "vitest";
import { expectConnectorError, expectConnectorErrorBehindGateway, startConnectionCountingProxy, useTestBed } from "@onerouter/routing/testing";
import { overrideTransport } from "@onerouter/routing/testing";
import { underOutboundRules } from "@onerouter/routing";
import type { RunningEmulator } from "@onerouter/sandbox";
import type { ConnectorContext, CreatePaymentInput, PaymentConnector, WebhookInput } from "./connector";

// The behaviour every payment connector shows against its provider (or the
// provider's emulator). Each connector folder runs this from its own
// contract.test.ts with a harness that starts what it needs.

export interface ConnectorHarness {
  connector: PaymentConnector;
  // Credentials and settings that point at the running emulator.
  ctx: ConnectorContext;
  // The same, with a secret the provider rejects.
  badCredentialsCtx: ConnectorContext;
  emulator: RunningEmulator;
  tokens: {
    succeed: string;
    decline: string;
    // The normalized decline code the decline token produces.
    declineCode: string;
  };
  // How the provider documents its 5xx answers: "not_processed" when it
  // promises nothing was done, "ambiguous" when it may have been (Stripe).
  serverErrorKind?: "not_processed" | "ambiguous";
  // Currencies among USD, INR, JPY, KWD the provider supports.
  currencies: readonly string[];
  // How the provider itself reads the stored amount, as a major-unit decimal
  // string ("12.34"), so conversions are checked end to end.
  providerAmount(providerPaymentId: string): Promise<string>;
  // How many charges the provider holds for this attempt id.
  chargeCount(attemptId: string): Promise<number>;
  // A "payment succeeded" webhook for the payment, signed as the provider signs it.
  signedWebhook(providerPaymentId: string): Promise<WebhookInput>;
  // The same signed an hour ago, for providers whose scheme carries a
  // timestamp; absent when it does not (replays are then caught by event id).
  staleWebhook?(providerPaymentId: string): Promise<WebhookInput>;
  close(): Promise<void>;
}

const sampleAmounts: Record<string, { amount: bigint; decimal: string }> = {
  USD: { amount: 1234n, decimal: "12.34" },
  INR: { amount: 10050n, decimal: "100.50" },
  JPY: { amount: 500n, decimal: "500" },
  KWD: { amount: 1230n, decimal: "1.230" },
};

let counter = 0;
function input(overrides: Partial<CreatePaymentInput> & { paymentMethodToken: string }): CreatePaymentInput {
  counter += 1;
  const id = `${Date.now().toString(36)}${counter}`;
  return {
    attemptId: `att_contract_${id}`,
    paymentId: `pay_contract_${id}`,
    amount: 1000n,
    currency: "USD",
    captureMethod: "automatic",
    metadata: { order: id },
    description: "contract test",
    customer: { email: "buyer@example.com", country: "US" },
    ...overrides,
  };
}

export interface ContractOptions {
  // The connector's client sends through the transport's kept-alive agents
  // and resends a request once on a fresh connection when a kept one closed under it.
  keepsConnectionsAlive?: boolean;
}

export function describePaymentConnectorContract(name: string, start: () => Promise<ConnectorHarness>, options: ContractOptions = {}) {
  describe(`${name} connector contract`, () => {
    const h = useTestBed(start);

    if (options.keepsConnectionsAlive) {
      it("reuses kept connections, and resends a request once on a fresh one when a kept one closes as it is reused", async () => {
        const pay = () => h().connector.createPayment(h().ctx, input({ paymentMethodToken: h().tokens.succeed }));
        // A burst leaves at least two kept connections.
        await Promise.all([pay(), pay()]);
        const [connections, requests] = [h().emulator.connectionCount(), h().emulator.requestCount()];
        await pay();
        expect(h().emulator.requestCount()).toBeGreaterThan(requests);
        expect(h().emulator.connectionCount()).toBe(connections);

        // The provider then closes each kept connection as it is reused:
        // the SDK's own retry, if it has one, would only meet another.
        await h().emulator.setFailure({ mode: "close_reused", count: 2 });
        try {
          const payment = input({ paymentMethodToken: h().tokens.succeed });
          const result = await h().connector.createPayment(h().ctx, payment);
          expect(result.status).toBe("succeeded");
          expect(await h().chargeCount(payment.attemptId)).toBe(1);
          expect(h().emulator.failure().count ?? 0).toBeLessThan(2);
        } finally {
          await h().emulator.setFailure({ mode: "none" });
        }
      });
    }

    it("captures an automatic payment", async () => {
      const result = await h().connector.createPayment(h().ctx, input({ paymentMethodToken: h().tokens.succeed }));
      expect(result.status).toBe("succeeded");
      expect(result.providerPaymentId).not.toBe("");
      expect(result.amountCaptured).toBe(1000n);
    });

    it("reports a decline as an answer with a normalized code", async () => {
      const result = await h().connector.createPayment(h().ctx, input({ paymentMethodToken: h().tokens.decline }));
      expect(result.status).toBe("declined");
      expect(result.failure?.reason).toBe("PROVIDER_DECLINED");
      expect(result.failure?.declineCode).toBe(h().tokens.declineCode);
      expect(result.failure?.providerCode).toBeTruthy();
    });

    it("authorizes, partially captures, then refunds in parts up to the captured amount", async () => {
      const created = await h().connector.createPayment(
        h().ctx,
        input({ paymentMethodToken: h().tokens.succeed, captureMethod: "manual" }),
      );
      expect(created.status).toBe("requires_capture");
      expect(created.amountCapturable).toBe(1000n);
      const captured = await h().connector.capturePayment(h().ctx, {
        providerPaymentId: created.providerPaymentId,
        amount: 600n,
        currency: "USD",
        idempotencyKey: `cap_${created.providerPaymentId}`,
      });
      expect(captured.status).toBe("succeeded");
      expect(captured.amountCaptured).toBe(600n);
      for (const n of [1, 2]) {
        const refund = await h().connector.refundPayment(h().ctx, {
          providerPaymentId: captured.providerPaymentId,
          amount: 250n,
          currency: "USD",
          refundId: `re_${created.providerPaymentId}_${n}`,
          idempotencyKey: `re_${created.providerPaymentId}_${n}`,
        });
        expect(["succeeded", "pending"]).toContain(refund.status);
        expect(refund.providerRefundId).not.toBe("");
      }
      await expectConnectorError(
        h().connector.refundPayment(h().ctx, {
          providerPaymentId: captured.providerPaymentId,
          amount: 250n,
          currency: "USD",
          refundId: `re_${created.providerPaymentId}_3`,
          idempotencyKey: `re_${created.providerPaymentId}_3`,
        }),
        "invalid_request",
      );
    });

    it("cancels an authorized payment", async () => {
      const created = await h().connector.createPayment(
        h().ctx,
        input({ paymentMethodToken: h().tokens.succeed, captureMethod: "manual" }),
      );
      const canceled = await h().connector.cancelPayment(h().ctx, {
        providerPaymentId: created.providerPaymentId,
        idempotencyKey: `cancel_${created.providerPaymentId}`,
      });
      expect(canceled.status).toBe("canceled");
    });

    it("converts amounts into the provider's units", async () => {
      for (const currency of h().currencies) {
        const sample = sampleAmounts[currency];
        if (!sample) throw new Error(`no sample amount for ${currency}`);
        const result = await h().connector.createPayment(
          h().ctx,
          input({ paymentMethodToken: h().tokens.succeed, amount: sample.amount, currency }),
        );
        expect(await h().providerAmount(result.providerPaymentId), currency).toBe(sample.decimal);
      }
    });

    it("charges once when the same attempt is sent twice", async () => {
      const payment = input({ paymentMethodToken: h().tokens.succeed });
      const first = await h().connector.createPayment(h().ctx, payment);
      const second = await h().connector.createPayment(h().ctx, payment);
      expect(second.providerPaymentId).toBe(first.providerPaymentId);
      expect(await h().chargeCount(payment.attemptId)).toBe(1);
    });

    it("rejects wrong credentials the way the provider does", async () => {
      const err = await expectConnectorError(h().connector.testCredentials(h().badCredentialsCtx), "not_processed");
      expect(err.details.reason).toBe("PROVIDER_AUTHENTICATION_FAILED");
      await h().connector.testCredentials(h().ctx);
    });

    it("never connects to an address the SSRF rules forbid, and fails as not processed", async () => {
      // A listener that would reach the emulator, on loopback, which provider calls may not reach by default.
      const listener = await startConnectionCountingProxy(h().emulator.port);
      try {
        const ctx = { ...h().ctx, settings: { ...h().ctx.settings, base_url: listener.url }, transport: overrideTransport(listener.url) };
        await expectConnectorError(h().connector.createPayment(ctx, input({ paymentMethodToken: h().tokens.succeed })), "not_processed");
        const guarded = underOutboundRules(h().connector);
        for (const call of [() => guarded.createPayment(ctx, input({ paymentMethodToken: h().tokens.succeed })), () => guarded.testCredentials(ctx)]) {
          const err = await expectConnectorError(call(), "not_processed");
          expect(err.details.reason).toBe("PROVIDER_ADDRESS_FORBIDDEN");
        }
        expect(listener.connections()).toBe(0);
      } finally {
        await listener.close();
      }
    });

    it("maps the provider's 5xx, rate limit and outage as the provider documents them", async () => {
      for (const mode of ["error_5xx", "rate_limited", "down"] as const) {
        await h().emulator.setFailure({ mode, count: mode === "down" ? undefined : 1 });
        try {
          const err = await expectConnectorError(
            h().connector.createPayment(h().ctx, input({ paymentMethodToken: h().tokens.succeed })),
            mode === "error_5xx" ? (h().serverErrorKind ?? "not_processed") : "not_processed",
          );
          expect(err.details.reason, mode).toBe(mode === "rate_limited" ? "PROVIDER_RATE_LIMITED" : "PROVIDER_UNAVAILABLE");
        } finally {
          await h().emulator.setFailure({ mode: "none" });
        }
      }
    });

    it("never reads a gateway's answer as the provider's: a 429 was not processed, a 502 or 503 may have been", async () => {
      const created = await h().connector.createPayment(h().ctx, input({ paymentMethodToken: h().tokens.succeed }));
      const behindGateway = (status: number, call: () => Promise<unknown>, kind?: "not_processed" | "ambiguous") =>
        expectConnectorErrorBehindGateway(h().emulator, status, call, kind);
      for (const status of [429, 502, 503]) {
        const kind = status === 429 ? "not_processed" : "ambiguous";
        const payment = input({ paymentMethodToken: h().tokens.succeed });
        await behindGateway(status, () => h().connector.createPayment(h().ctx, payment), kind);
        const refund = { providerPaymentId: created.providerPaymentId, amount: 100n, currency: "USD", refundId: `re_gw_${status}_${payment.attemptId}` };
        // Some providers read before they refund: what the gateway stopped may be that read.
        await behindGateway(status, () => h().connector.refundPayment(h().ctx, { ...refund, idempotencyKey: refund.refundId }));
        await behindGateway(status, () => h().connector.syncPayment(h().ctx, { attemptId: payment.attemptId, amount: 1000n, currency: "USD" }));
        await behindGateway(status, () => h().connector.syncPayment(h().ctx, { attemptId: payment.attemptId, providerPaymentId: created.providerPaymentId, amount: 1000n, currency: "USD" }));
        await behindGateway(status, () => h().connector.testCredentials(h().ctx));
      }
    });

    it("marks a timeout after sending as ambiguous, and sync finds what happened", async () => {
      const payment = input({ paymentMethodToken: h().tokens.succeed });
      await h().emulator.setFailure({ mode: "timeout_after_accept", count: 1 });
      await expectConnectorError(h().connector.createPayment({ ...h().ctx, timeoutMs: 300 }, payment), "ambiguous");
      const synced = await h().connector.syncPayment(h().ctx, {
        attemptId: payment.attemptId,
        amount: payment.amount,
        currency: payment.currency,
      });
      expect(synced?.status).toBe("succeeded");
      expect(await h().chargeCount(payment.attemptId)).toBe(1);
      const unknown = await h().connector.syncPayment(h().ctx, { attemptId: "att_never_sent", amount: 1n, currency: "USD" });
      expect(unknown).toBeNull();
    });

    it("verifies webhooks and rejects forged or stale ones", async () => {
      const created = await h().connector.createPayment(h().ctx, input({ paymentMethodToken: h().tokens.succeed }));
      const webhook = await h().signedWebhook(created.providerPaymentId);
      const event = await h().connector.parseWebhook(h().ctx, webhook);
      expect(event.providerEventId).not.toBe("");
      expect(event.providerPaymentId).toBe(created.providerPaymentId);
      const tampered = { ...webhook, rawBody: Buffer.concat([webhook.rawBody, Buffer.from(" ")]) };
      await expectConnectorError(h().connector.parseWebhook(h().ctx, tampered), "invalid_signature");
      const unsigned = { ...webhook, headers: {} };
      await expectConnectorError(h().connector.parseWebhook(h().ctx, unsigned), "invalid_signature");
      const stale = await h().staleWebhook?.(created.providerPaymentId);
      if (stale) await expectConnectorError(h().connector.parseWebhook(h().ctx, stale), "invalid_signature");
    });
  });
}
