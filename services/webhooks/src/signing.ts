import { createHmac } from "node:crypto";

// Standard Webhooks signatures: HMAC-SHA256 over "<id>.<timestamp>.<body>"
// with the secret's bytes, sent as "v1,<base64>"; one per active secret.
export function signStandardWebhook(input: {
  id: string;
  timestamp: Date;
  body: string;
  secrets: string[];
}): Record<string, string> {
  const seconds = Math.floor(input.timestamp.getTime() / 1000).toString();
  const content = `${input.id}.${seconds}.${input.body}`;
  const signatures = input.secrets.map((secret) => {
    const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
    return `v1,${createHmac("sha256", key).update(content).digest("base64")}`;
  });
  return {
    "webhook-id": input.id,
    "webhook-timestamp": seconds,
    "webhook-signature": signatures.join(" "),
  };
}
