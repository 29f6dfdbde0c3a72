import { describe, expect, it } from "vitest";
import type { ConnectorContext } from "@onerouter/routing";
import type { MessagingConnector, SendEmailInput, SendSmsInput } from "../connector";
import { describeMessagingConnectorContract, emailInput, smsInput } from "../contract";
import { sandboxEmailConnector, sandboxSmsConnector } from "./index";
import { startSandboxTestBed } from "./connector.testing";

describeMessagingConnectorContract("sandbox_sms", () => startSandboxTestBed(sandboxSmsConnector));
describeMessagingConnectorContract("sandbox_email", () => startSandboxTestBed(sandboxEmailConnector));

// The promise behind `idempotentSend`, on which resuming an interrupted send rests.
describe.each([sandboxSmsConnector, sandboxEmailConnector])("$name: a send repeated under its attempt id", (connector) => {
  const send = (ctx: ConnectorContext, input: SendSmsInput | SendEmailInput) =>
    (connector.send as (c: ConnectorContext, x: SendSmsInput | SendEmailInput) => ReturnType<MessagingConnector["send"]>)(ctx, input);

  it("is one message at the provider, answered as the first", async () => {
    const h = await startSandboxTestBed(connector);
    try {
      expect(connector.idempotentSend).toBe(true);
      const message = connector.channel === "sms" ? smsInput() : emailInput();
      const first = await send(h.ctx, message);
      const again = await send(h.ctx, message);
      expect(again.providerMessageId).toBe(first.providerMessageId);
      expect(await h.sentCount(message.attemptId)).toBe(1);
    } finally {
      await h.close();
    }
  });
});
