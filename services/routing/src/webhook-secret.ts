import { ConnectorError, type ConnectorContext } from "./connector-kit";

// The credential a connector checks inbound webhooks with; without it no
// webhook can be trusted, so each is refused as unsigned.
export function webhookSecret(ctx: ConnectorContext, provider: string, title: string, credential: string): string {
  const secret = ctx.credentials[credential];
  if (!secret) {
    throw new ConnectorError("invalid_signature", provider, `The ${title} account has no ${credential}`, {
      reason: "WEBHOOK_SECRET_MISSING",
    });
  }
  return secret;
}
