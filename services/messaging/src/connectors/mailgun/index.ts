import { ConnectorError, webhookSecret } from "@onerouter/routing";
import type { EmailConnector } from "../connector";
import { callMailgun } from "./client";
import { attemptIdVariable, content, mailbox, messageIdVariable } from "./mapping";
import { claimMailgunToken, parseMailgunEvent, verifyMailgunWebhook } from "./webhook";

export { verifyMailgunWebhook } from "./webhook";

export const mailgunConnector: EmailConnector = {
  name: "mailgun",
  channel: "email",
  credentialKeys: ["api_key", "domain", "webhook_signing_key"],

  async send(ctx, input) {
    const body = content(input.text, input.html);
    if (!body) {
      throw new ConnectorError("invalid_request", "mailgun", "An email needs a text or an HTML body", {
        reason: "EMAIL_BODY_REQUIRED",
      });
    }
    return callMailgun(ctx, async ({ client, domain }) => {
      const sent = await client.messages.create(domain, {
        ...body,
        from: mailbox(input.from),
        to: input.to.map(mailbox),
        ...(input.cc.length > 0 && { cc: input.cc.map(mailbox) }),
        ...(input.bcc.length > 0 && { bcc: input.bcc.map(mailbox) }),
        subject: input.subject,
        ...(input.replyTo && { "h:Reply-To": mailbox(input.replyTo) }),
        [`v:${attemptIdVariable}`]: input.attemptId,
        [`v:${messageIdVariable}`]: input.messageId,
      });
      // Mailgun answers the Message-Id in angle brackets; its events carry it
      // bare. An answer without one is not Mailgun's: the message may be queued.
      if (typeof sent?.id !== "string" || sent.id === "") {
        throw new ConnectorError("ambiguous", "mailgun", "Mailgun's answer names no queued message", { reason: "PROVIDER_INVALID_RESPONSE" });
      }
      return { providerMessageId: sent.id.replace(/^<(.*)>$/, "$1"), status: "queued" };
    });
  },

  async testCredentials(ctx) {
    const domain = await callMailgun(ctx, ({ client, domain }) => client.domains.get(domain));
    if (domain.is_disabled || domain.state !== "active") {
      throw new ConnectorError("not_processed", "mailgun", `The Mailgun domain ${domain.name} is ${domain.is_disabled ? "disabled" : domain.state}`, {
        reason: "PROVIDER_AUTHENTICATION_FAILED",
      });
    }
  },

  async parseCallback(ctx, input) {
    const signingKey = webhookSecret(ctx, "mailgun", "Mailgun", "webhook_signing_key");
    const verified = verifyMailgunWebhook(input, signingKey);
    await claimMailgunToken(input, verified);
    return parseMailgunEvent(verified.eventData);
  },
};
