import { describe, expect, it } from "vitest";
import type { RunningEmulator } from "@onerouter/sandbox";
import { ConnectorError, type ConnectorContext, type WebhookInput } from "@onerouter/routing";
import { expectConnectorError, expectConnectorErrorBehindGateway, startConnectionCountingProxy, useTestBed } from "@onerouter/routing/testing";
import { overrideTransport } from "@onerouter/routing/testing";
import { underOutboundRules } from "@onerouter/routing";
import type { MessagingConnector, SendEmailInput, SendSmsInput, SmsConnector } from "./connector";

// The behaviour every messaging connector shows against its provider's
// emulator. Each connector folder runs this from its contract.test.ts.

export interface MessagingHarness {
  connector: MessagingConnector;
  ctx: ConnectorContext;
  badCredentialsCtx: ConnectorContext;
  emulator: RunningEmulator;
  // A destination the provider rejects outright (e.g. an invalid number or a
  // suppressed address), with the provider code it answers.
  rejectedDestination: { to: string; providerCode: string };
  // How many messages the provider accepted for this attempt.
  sentCount(attemptId: string): Promise<number>;
  // Makes the provider report delivery for a sent message, and returns the
  // signed callback exactly as the provider sends it.
  deliveryCallback(providerMessageId: string, status: "delivered" | "failed"): Promise<WebhookInput>;
  close(): Promise<void>;
}

let counter = 0;
function ids() {
  counter += 1;
  const id = `${Date.now().toString(36)}${counter}`;
  return { attemptId: `matt_contract_${id}`, messageId: `msg_contract_${id}` };
}

// The engine gives every SMS a status-callback URL naming its attempt; the
// shared contract sends without one, so a test bed adds it likewise.
export function withStatusCallbacks(connector: SmsConnector, callbackUrl: (attemptId: string) => string): SmsConnector {
  return {
    ...connector,
    send: (ctx, input) => connector.send(ctx, { ...input, statusCallbackUrl: input.statusCallbackUrl ?? callbackUrl(input.attemptId) }),
  };
}

export function smsInput(overrides: Partial<SendSmsInput> = {}): SendSmsInput {
  return { ...ids(), to: "+14155550100", from: "+14155550199", body: "Your code is 123456", ...overrides };
}

export function emailInput(overrides: Partial<SendEmailInput> = {}): SendEmailInput {
  return {
    ...ids(),
    from: { email: "noreply@example.com", name: "Example" },
    to: [{ email: "buyer@example.com", name: "Buyer" }],
    cc: [{ email: "cc@example.com" }],
    bcc: [],
    subject: "Your receipt",
    text: "Thanks for your order.",
    html: "<p>Thanks for your order.</p>",
    ...overrides,
  };
}

export interface MessagingContractOptions {
  // The connector's client sends through the transport's kept-alive agents
  // and resends a request once on a fresh connection when a kept one closed under it.
  keepsConnectionsAlive?: boolean;
}

export function describeMessagingConnectorContract(name: string, start: () => Promise<MessagingHarness>, options: MessagingContractOptions = {}) {
  describe(`${name} messaging connector contract`, () => {
    const h = useTestBed(start);

    const input = (overrides: Record<string, unknown> = {}) =>
      h().connector.channel === "sms"
        ? smsInput(overrides as Partial<SendSmsInput>)
        : emailInput(overrides as Partial<SendEmailInput>);
    // The union of connectors takes the union of inputs; each harness sends its own channel's.
    const send = (ctx: ConnectorContext, i: SendSmsInput | SendEmailInput) =>
      (h().connector.send as (c: ConnectorContext, x: SendSmsInput | SendEmailInput) => ReturnType<MessagingConnector["send"]>)(ctx, i);

    if (options.keepsConnectionsAlive) {
      it("reuses kept connections, and resends a message once on a fresh one when a kept one closes as it is reused", async () => {
        // A burst leaves at least two kept connections.
        await Promise.all([send(h().ctx, input()), send(h().ctx, input())]);
        const [connections, requests] = [h().emulator.connectionCount(), h().emulator.requestCount()];
        await send(h().ctx, input());
        expect(h().emulator.requestCount()).toBeGreaterThan(requests);
        expect(h().emulator.connectionCount()).toBe(connections);

        await h().emulator.setFailure({ mode: "close_reused", count: 2 });
        try {
          const message = input();
          const result = await send(h().ctx, message);
          expect(["queued", "sent"]).toContain(result.status);
          expect(await h().sentCount(message.attemptId)).toBe(1);
          expect(h().emulator.failure().count ?? 0).toBeLessThan(2);
        } finally {
          await h().emulator.setFailure({ mode: "none" });
        }
      });
    }

    it("sends a message the provider accepts", async () => {
      const message = input();
      const result = await send(h().ctx, message);
      expect(["queued", "sent"]).toContain(result.status);
      expect(result.providerMessageId).not.toBe("");
      expect(await h().sentCount(message.attemptId)).toBe(1);
    });

    it("reports a destination the provider rejects as a failed answer with its code", async () => {
      const message =
        h().connector.channel === "sms"
          ? input({ to: h().rejectedDestination.to })
          : input({ to: [{ email: h().rejectedDestination.to }] });
      const outcome = await send(h().ctx, message).then(
        (r) => r,
        (e: unknown) => e,
      );
      if (outcome instanceof ConnectorError) {
        expect(outcome.kind).toBe("invalid_request");
        expect(outcome.details.providerCode).toBe(h().rejectedDestination.providerCode);
      } else {
        expect((outcome as { status: string }).status).toBe("failed");
        expect((outcome as { failure?: { providerCode?: string } }).failure?.providerCode).toBe(
          h().rejectedDestination.providerCode,
        );
      }
    });

    it("turns a signed delivery callback into a status change, and rejects a forged one", async () => {
      const message = input();
      const sent = await send(h().ctx, message);
      const callback = await h().deliveryCallback(sent.providerMessageId, "delivered");
      const events = await h().connector.parseCallback(h().ctx, callback);
      const event = events.find((e) => e.providerMessageId === sent.providerMessageId);
      expect(event?.status).toBe("delivered");
      expect(event?.providerEventId).toBeTruthy();
      const tampered = { ...callback, rawBody: Buffer.concat([callback.rawBody, Buffer.from("&x=1")]) };
      await expectConnectorError(h().connector.parseCallback(h().ctx, tampered), "invalid_signature");
      await expectConnectorError(h().connector.parseCallback(h().ctx, { ...callback, headers: {} }), "invalid_signature");
      await expectConnectorError(h().connector.parseCallback(h().badCredentialsCtx, callback), "invalid_signature");
    });

    it("reports a failed delivery with the provider's error", async () => {
      const sent = await send(h().ctx, input());
      const events = await h().connector.parseCallback(h().ctx, await h().deliveryCallback(sent.providerMessageId, "failed"));
      const event = events.find((e) => e.providerMessageId === sent.providerMessageId);
      expect(["failed", "undelivered"]).toContain(event?.status);
      expect(event?.failure?.providerCode).toBeTruthy();
    });

    it("rejects wrong credentials the way the provider does", async () => {
      const err = await expectConnectorError(h().connector.testCredentials(h().badCredentialsCtx), "not_processed");
      expect(err.details.reason).toBe("PROVIDER_AUTHENTICATION_FAILED");
      await h().connector.testCredentials(h().ctx);
      await expectConnectorError(send(h().badCredentialsCtx, input()), "not_processed");
    });

    it("never connects to an address the SSRF rules forbid, and fails as not processed", async () => {
      // A listener that would reach the emulator, on loopback, which provider calls may not reach by default.
      const listener = await startConnectionCountingProxy(h().emulator.port);
      try {
        const ctx = { ...h().ctx, settings: { ...h().ctx.settings, base_url: listener.url }, transport: overrideTransport(listener.url) };
        await expectConnectorError(send(ctx, input()), "not_processed");
        const guarded = underOutboundRules(h().connector);
        for (const call of [() => guarded.send(ctx, input() as never), () => guarded.testCredentials(ctx)]) {
          const err = await expectConnectorError(call(), "not_processed");
          expect(err.details.reason).toBe("PROVIDER_ADDRESS_FORBIDDEN");
        }
        expect(listener.connections()).toBe(0);
      } finally {
        await listener.close();
      }
    });

    it("maps the provider's 5xx, rate limit and outage to not_processed", async () => {
      for (const mode of ["error_5xx", "rate_limited", "down"] as const) {
        await h().emulator.setFailure({ mode, count: mode === "down" ? undefined : 1 });
        try {
          const message = input();
          const err = await expectConnectorError(send(h().ctx, message), "not_processed");
          expect(err.details.reason, mode).toBe(mode === "rate_limited" ? "PROVIDER_RATE_LIMITED" : "PROVIDER_UNAVAILABLE");
          expect(await h().sentCount(message.attemptId)).toBe(0);
        } finally {
          await h().emulator.setFailure({ mode: "none" });
        }
      }
    });

    it("never reads a gateway's answer as the provider's: a 429 was not processed, a 502 or 503 may have been", async () => {
      const behindGateway = (status: number, call: () => Promise<unknown>, kind?: "not_processed" | "ambiguous") =>
        expectConnectorErrorBehindGateway(h().emulator, status, call, kind);
      for (const status of [429, 502, 503]) {
        await behindGateway(status, () => send(h().ctx, input()), status === 429 ? "not_processed" : "ambiguous");
        await behindGateway(status, () => h().connector.testCredentials(h().ctx));
      }
    });

    it("marks a timeout after sending as ambiguous", async () => {
      await h().emulator.setFailure({ mode: "timeout_after_accept", count: 1 });
      const message = input();
      await expectConnectorError(send({ ...h().ctx, timeoutMs: 300 }, message), "ambiguous");
      expect(await h().sentCount(message.attemptId)).toBe(1);
    });
  });
}
