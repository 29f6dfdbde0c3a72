import type { SMS } from "@vonage/sms";
import { ConnectorError, webhookSecret } from "@onerouter/routing";
import type { SmsConnector } from "../connector";
import { callVonage } from "./client";
import {
  defaultSignatureMethod,
  parseVonageReceipt,
  signatureMethods,
  verifyVonageReceipt,
  type VonageSignatureMethod,
} from "./webhook";
import { needsUnicode, sendResult, type SmsPart } from "./mapping";

type SmsParams = NonNullable<Parameters<SMS["send"]>[0]>;
// The SDK types `type` as an enum of its own; "unicode" is one of its values.
const unicodeType = "unicode" as NonNullable<SmsParams["type"]>;

// The SMS API takes numbers in E.164 without the leading "+".
function vonageNumber(address: string): string {
  return /^\+\d+$/.test(address) ? address.slice(1) : address;
}

// The SDK throws when any part is refused (MessageSendAllFailure or
// MessageSendPartialFailure), with the parts in the error.
function isRefusal(err: unknown): err is { getMessages(): SmsPart[] } {
  return typeof (err as { getMessages?: unknown } | null)?.getMessages === "function";
}

function signatureMethod(setting: string | undefined): VonageSignatureMethod {
  const method = setting ?? defaultSignatureMethod;
  if (!(signatureMethods as readonly string[]).includes(method)) {
    throw new ConnectorError("invalid_signature", "vonage", `Unknown Vonage signature_method ${method}`, {
      reason: "WEBHOOK_SIGNATURE_METHOD_UNSUPPORTED",
    });
  }
  return method as VonageSignatureMethod;
}

export const vonageConnector: SmsConnector = {
  name: "vonage",
  channel: "sms",
  credentialKeys: ["api_key", "api_secret", "signature_secret"],

  async testCredentials(ctx) {
    await callVonage(ctx, (sdk) => sdk.accounts.getBalance());
  },

  async send(ctx, input) {
    const sender = input.from || ctx.settings.default_from;
    if (!sender) {
      const message = "No sender: the message has no from and the account no default_from";
      throw new ConnectorError("invalid_request", "vonage", message, { reason: "SENDER_REQUIRED" });
    }
    const parts = await callVonage(ctx, async (sdk) => {
      try {
        const answer = await sdk.sms.send({
          to: vonageNumber(input.to),
          from: vonageNumber(sender),
          text: input.body,
          // Echoed in the answer and in every delivery receipt.
          clientRef: input.attemptId,
          ...(input.statusCallbackUrl && { callback: input.statusCallbackUrl }),
          ...(needsUnicode(input.body) && { type: unicodeType }),
        });
        return answer.messages as SmsPart[];
      } catch (err) {
        if (isRefusal(err)) return err.getMessages();
        throw err;
      }
    });
    return sendResult(parts);
  },

  async parseCallback(ctx, input) {
    const secret = webhookSecret(ctx, "vonage", "Vonage", "signature_secret");
    return parseVonageReceipt(verifyVonageReceipt(input, secret, signatureMethod(ctx.settings.signature_method)));
  },
};
