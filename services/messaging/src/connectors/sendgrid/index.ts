import { ConnectorError, webhookSecret } from "@onerouter/routing";
import type { EmailConnector } from "../connector";
import { callSendGrid } from "./client";
import { address, attemptIdArg, messageIdArg } from "./mapping";
import { eventWebhookKey, parseSendGridEvents, verifySendGridSignature } from "./webhook";

export { verifySendGridSignature } from "./webhook";

export const sendgridConnector: EmailConnector = {
  name: "sendgrid",
  channel: "email",
  credentialKeys: ["api_key", "event_webhook_public_key"],

  async send(ctx, input) {
    // SendGrid refuses empty content blocks, and a message without any.
    const [firstBlock, ...otherBlocks] = [
      ...(input.text ? [{ type: "text/plain", value: input.text }] : []),
      ...(input.html ? [{ type: "text/html", value: input.html }] : []),
    ];
    if (!firstBlock) {
      throw new ConnectorError("invalid_request", "sendgrid", "An email needs a text or an HTML body", {
        reason: "EMAIL_BODY_REQUIRED",
      });
    }
    return callSendGrid(ctx, async ({ mail }) => {
      // One personalization: one message, with every recipient in its headers.
      // The ids ride on it as custom args: SendGrid's spec takes an object
      // of them per personalization (the message-level field is a string).
      const [response] = await mail.send({
        from: address(input.from),
        personalizations: [
          {
            to: input.to.map(address),
            cc: input.cc.map(address),
            bcc: input.bcc.map(address),
            customArgs: { [attemptIdArg]: input.attemptId, [messageIdArg]: input.messageId },
          },
        ],
        ...(input.replyTo && { replyTo: address(input.replyTo) }),
        subject: input.subject,
        content: [firstBlock, ...otherBlocks],
      });
      // SendGrid queues a message with 202 and nothing else; another 2xx
      // is not its answer, and the mail may or may not be on its way.
      if (response.statusCode !== 202) {
        throw new ConnectorError("ambiguous", "sendgrid", `Mail Send answered ${response.statusCode}, not 202`, {
          reason: "PROVIDER_INVALID_RESPONSE",
          httpStatus: response.statusCode,
        });
      }
      // Without an X-Message-Id the events still find the attempt by its custom arg.
      const messageId = response.headers?.["x-message-id"];
      return { providerMessageId: typeof messageId === "string" ? messageId : "", status: "queued" };
    });
  },

  async testCredentials(ctx) {
    const publicKey = ctx.credentials.event_webhook_public_key;
    if (publicKey && !eventWebhookKey(publicKey)) {
      throw new ConnectorError("invalid_request", "sendgrid", "The event_webhook_public_key is not an ECDSA P-256 public key", {
        reason: "WEBHOOK_SECRET_INVALID",
      });
    }
    const scopes = await callSendGrid(ctx, async ({ client }) => {
      const [, body] = await client.request({ method: "GET", url: "/v3/scopes" });
      return (body as { scopes?: unknown } | null)?.scopes;
    });
    // A restricted key may lack Mail Send, and every send would answer 403.
    if (!Array.isArray(scopes) || !scopes.includes("mail.send")) {
      throw new ConnectorError("not_processed", "sendgrid", "The SendGrid API key lacks the mail.send scope", {
        reason: "PROVIDER_AUTHENTICATION_FAILED",
      });
    }
  },

  async parseCallback(ctx, input) {
    const publicKey = webhookSecret(ctx, "sendgrid", "SendGrid", "event_webhook_public_key");
    verifySendGridSignature(input.rawBody, input.headers, publicKey);
    return parseSendGridEvents(input.rawBody);
  },
};
