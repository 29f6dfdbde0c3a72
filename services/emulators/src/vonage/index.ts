import { randomBytes, randomUUID } from "node:crypto";
import { postWebhook, type EmulatorReply, type EmulatorRequest, type ProviderEmulator } from "@onerouter/sandbox";
import { smsSegments } from "../twilio/segments";
import { signVonageParams, type VonageSignatureMethod } from "./signature";
import { headerValue, isHttpUrl } from "../http";
import { UnknownEmulatedObject } from "../dev-profile";

export { signVonageParams, type VonageSignatureMethod } from "./signature";

export interface VonageEmulatorOptions {
  apiKey: string;
  apiSecret: string;
  // The account's signature secret and the method chosen in the dashboard;
  // delivery receipts are signed with them ("signed webhooks").
  signatureSecret: string;
  signatureMethod: VonageSignatureMethod;
  // Account balance in EUR; 10 unless set.
  balance?: number;
  // Outbound SMS price per part by destination (ISO 3166-1 alpha-2), in
  // `pricingCurrency` (USD unless set), as the Pricing API publishes it.
  smsPrices?: Record<string, string>;
  pricingCurrency?: string;
  // A demo (trial) account sends only to these numbers (digits, no "+").
  demoWhitelist?: string[];
  // The dashboard's delivery receipt URL, for messages sent without `callback`.
  receiptUrl?: string;
  // How receipts are POSTed: the dashboard's "POST" (form) or "POST-JSON".
  receiptFormat?: "form" | "json";
}

export type VonageReceiptStatus = "delivered" | "expired" | "failed" | "rejected" | "accepted" | "buffered" | "unknown";

export interface VonageMessage {
  // One id per SMS part; a long text is several parts.
  partIds: string[];
  to: string;
  from: string;
  text: string;
  type: string;
  clientRef: string | null;
  callback: string | null;
  status: VonageReceiptStatus | "submitted";
}

// A delivery receipt exactly as Vonage POSTs it.
export interface SignedVonageReceipt {
  url: string;
  body: string;
  // Lower-cased names.
  headers: Record<string, string>;
  params: Record<string, string>;
}

export interface VonageEmulator extends ProviderEmulator {
  balance(): number;
  // Changes what the Pricing API publishes for a destination.
  setSmsPrice(country: string, price: string): void;
  message(messageId: string): VonageMessage | undefined;
  // Messages sent with this client-ref.
  messagesWithClientRef(clientRef: string): VonageMessage[];
  // Records the carrier's report for one part and returns the signed receipt
  // Vonage sends for it; with `deliver`, also POSTs it (once, without retries).
  deliveryReceipt(
    messageId: string,
    status: Exclude<VonageReceiptStatus, "unknown">,
    options?: { errCode?: string; deliver?: boolean },
  ): Promise<SignedVonageReceipt>;
}

const pricePerPart = 0.00809;
// The same list prices as the connector's fee table, so a sync against the emulator changes nothing until a test reprices.
const defaultSmsPrices: Record<string, string> = { US: "0.00809", CA: "0.00809", GB: "0.04160", DE: "0.08640", IN: "0.04530", AU: "0.06010", BR: "0.03820" };
const network = "310004";

// The SMS API answers HTTP 200 with a status per message; non-zero is an error.
function smsReply(messages: Record<string, string>[]): EmulatorReply {
  return { status: 200, body: { "message-count": String(messages.length), messages } };
}

function smsError(status: string, errorText: string): EmulatorReply {
  return smsReply([{ status, "error-text": errorText }]);
}

function vonageMessageId(): string {
  return randomBytes(8).toString("hex").toUpperCase();
}

// The API takes JSON, a form or a query string; values come back as text.
function requestParams(req: EmulatorRequest): Record<string, string> {
  const params: Record<string, string> = Object.fromEntries(req.query);
  const body = req.rawBody.toString("utf8");
  const contentType = headerValue(req.headers["content-type"]) ?? "";
  if (contentType.startsWith("application/json") && body) {
    for (const [name, value] of Object.entries(JSON.parse(body) as Record<string, unknown>)) {
      params[name] = String(value);
    }
  } else if (body) {
    Object.assign(params, Object.fromEntries(new URLSearchParams(body)));
  }
  return params;
}

// Basic auth (what the SDKs send) or api_key and api_secret parameters.
function presentedCredentials(req: EmulatorRequest, params: Record<string, string>) {
  const [scheme = "", encoded = ""] = (headerValue(req.headers.authorization) ?? "").split(" ", 2);
  if (/^basic$/i.test(scheme)) {
    const decoded = Buffer.from(encoded, "base64").toString("utf8");
    const separator = decoded.indexOf(":");
    return { key: decoded.slice(0, separator), secret: decoded.slice(separator + 1) };
  }
  return { key: params.api_key, secret: params.api_secret };
}

// YYMMDDHHMM, as in a receipt's scts.
function scts(date: Date): string {
  return date.toISOString().replace(/^\d\d(\d\d)-(\d\d)-(\d\d)T(\d\d):(\d\d).*$/, "$1$2$3$4$5");
}

export function vonageEmulator(options: VonageEmulatorOptions): VonageEmulator {
  let balance = options.balance ?? 10;
  const smsPrices = new Map(Object.entries(options.smsPrices ?? defaultSmsPrices));
  const messages = new Map<string, VonageMessage>();
  const byPart = new Map<string, VonageMessage>();

  function handle(req: EmulatorRequest): EmulatorReply {
    if (req.path === "/sms/json" && (req.method === "POST" || req.method === "GET")) {
      let params: Record<string, string>;
      try {
        params = requestParams(req);
      } catch {
        return smsError("3", "Invalid request body");
      }
      return send(req, params);
    }
    if (req.path === "/account/get-balance" && req.method === "GET") {
      const { key, secret } = presentedCredentials(req, Object.fromEntries(req.query));
      if (key !== options.apiKey || secret !== options.apiSecret) {
        return { status: 401, body: { "error-code": "401", "error-code-label": "authentication failed" } };
      }
      return { status: 200, body: { value: Number(balance.toFixed(8)), autoReload: false } };
    }
    if (req.path === "/account/get-full-pricing/outbound/sms" && req.method === "GET") {
      const { key, secret } = presentedCredentials(req, Object.fromEntries(req.query));
      if (key !== options.apiKey || secret !== options.apiSecret) {
        return { status: 401, body: { "error-code": "401", "error-code-label": "authentication failed" } };
      }
      return { status: 200, body: fullSmsPricing() };
    }
    return { status: 404, body: { type: "https://developer.vonage.com/api-errors#not-found", title: "Not Found" } };
  }

  // The Pricing API's outbound SMS prices of every destination, one network each.
  function fullSmsPricing() {
    const currency = options.pricingCurrency ?? "USD";
    const countries = [...smsPrices].map(([countryCode, price]) => ({
      countryCode,
      countryName: countryCode,
      countryDisplayName: countryCode,
      currency,
      defaultPrice: price,
      dialingPrefix: "",
      networks: [{ type: "mobile", price, currency, mcc: "310", mnc: "004", networkCode: network, networkName: "Emulated Network" }],
    }));
    return { count: String(countries.length), countries };
  }

  function send(req: EmulatorRequest, params: Record<string, string>): EmulatorReply {
    const { key, secret } = presentedCredentials(req, params);
    if (!key) return smsError("2", "Missing api_key");
    if (key !== options.apiKey || secret !== options.apiSecret) return smsError("4", "Bad Credentials");
    const { from, text, callback } = params;
    const to = params.to?.replace(/^\+/, "");
    const type = params.type ?? "text";
    if (!from) return smsError("2", "Missing from param");
    if (!to) return smsError("2", "Missing to param");
    if (!text && (type === "text" || type === "unicode")) return smsError("2", "Missing text param");
    if (!/^\d{7,15}$/.test(to)) return smsError("3", "Invalid to address");
    if (!/^(\+?\d{1,15}|[A-Za-z0-9 ]{1,11})$/.test(from)) return smsError("3", "Invalid from param");
    if (callback !== undefined && !isHttpUrl(callback)) return smsError("23", "Invalid callback url");
    if (options.demoWhitelist && !options.demoWhitelist.includes(to)) {
      return smsError("29", "Non White-listed Destination - rejected");
    }
    const parts = smsSegments(text ?? "");
    if (balance < parts * pricePerPart) return smsError("9", "Partner quota exceeded");

    const clientRef = params["client-ref"] ?? null;
    const message: VonageMessage = {
      partIds: Array.from({ length: parts }, vonageMessageId),
      to,
      from,
      text: text ?? "",
      type,
      clientRef,
      callback: callback ?? null,
      status: "submitted",
    };
    messages.set(message.partIds[0] as string, message);
    for (const id of message.partIds) byPart.set(id, message);
    return smsReply(
      message.partIds.map((id) => {
        balance -= pricePerPart;
        return {
          to,
          "message-id": id,
          status: "0",
          "remaining-balance": balance.toFixed(8),
          "message-price": pricePerPart.toFixed(8),
          network,
          ...(clientRef !== null && { "client-ref": clientRef }),
        };
      }),
    );
  }

  async function deliveryReceipt(
    messageId: string,
    status: Exclude<VonageReceiptStatus, "unknown">,
    receiptOptions: { errCode?: string; deliver?: boolean } = {},
  ): Promise<SignedVonageReceipt> {
    const message = byPart.get(messageId);
    if (!message) throw new UnknownEmulatedObject(`the Vonage emulator has no message ${messageId}`);
    const url = message.callback ?? options.receiptUrl;
    if (!url) throw new Error(`message ${messageId} has no callback and the account no receipt URL`);
    message.status = status;
    const now = new Date();
    const succeeded = status === "delivered" || status === "accepted" || status === "buffered";
    const unsigned: Record<string, string> = {
      msisdn: message.to,
      to: message.from,
      "network-code": network,
      messageId,
      price: pricePerPart.toFixed(8),
      status,
      scts: scts(now),
      // 99 is Vonage's "General Error".
      "err-code": receiptOptions.errCode ?? (succeeded ? "0" : "99"),
      "api-key": options.apiKey,
      ...(message.clientRef !== null && { "client-ref": message.clientRef }),
      "message-timestamp": now.toISOString().replace("T", " ").slice(0, 19),
      timestamp: String(Math.floor(now.getTime() / 1000)),
      nonce: randomUUID(),
    };
    const params = { ...unsigned, sig: signVonageParams(unsigned, options.signatureSecret, options.signatureMethod) };
    const json = options.receiptFormat === "json";
    const receipt: SignedVonageReceipt = {
      url,
      body: json ? JSON.stringify(params) : new URLSearchParams(params).toString(),
      headers: { "content-type": json ? "application/json" : "application/x-www-form-urlencoded" },
      params,
    };
    // An unreachable receipt URL is the receiver's problem, as at Vonage.
    if (receiptOptions.deliver) await postWebhook(receipt.url, receipt.body, receipt.headers).catch(() => undefined);
    return receipt;
  }

  return {
    name: "vonage",
    handle,
    // The SMS API reports its own failures in the per-message status of an
    // HTTP 200: 5 is "Internal Error", 1 "Throttled".
    serverError: () => smsError("5", "Internal Error"),
    rateLimited: () => smsError("1", "Throughput Rate Exceeded - please wait [ 10 ] and retry"),
    balance: () => balance,
    setSmsPrice: (country, price) => void smsPrices.set(country.toUpperCase(), price),
    message: (messageId) => byPart.get(messageId),
    messagesWithClientRef: (clientRef) => [...messages.values()].filter((message) => message.clientRef === clientRef),
    deliveryReceipt,
  };
}
