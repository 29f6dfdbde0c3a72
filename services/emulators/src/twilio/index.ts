import { randomBytes, randomUUID } from "node:crypto";
import { postWebhook, type EmulatorReply, type EmulatorRequest, type ProviderEmulator } from "@onerouter/sandbox";
import { smsSegments } from "./segments";
import { signTwilioRequest } from "./signature";
import { headerValue, isHttpUrl } from "../http";
import { UnknownEmulatedObject } from "../dev-profile";

export { signTwilioRequest } from "./signature";

export interface TwilioEmulatorOptions {
  // The account's SID (AC...) and auth token: the API's basic-auth pair and
  // the key of X-Twilio-Signature.
  accountSid: string;
  authToken: string;
  // Outbound SMS price per segment in USD by destination (ISO 3166-1
  // alpha-2), as the Pricing API publishes it; defaults to Twilio's list prices.
  smsPrices?: Record<string, string>;
}

export type TwilioMessageStatus =
  | "accepted"
  | "queued"
  | "sending"
  | "sent"
  | "delivered"
  | "undelivered"
  | "failed";

export interface TwilioMessage {
  sid: string;
  to: string;
  from: string | null;
  messagingServiceSid: string | null;
  body: string;
  statusCallback: string | null;
  status: TwilioMessageStatus;
  errorCode: number | null;
  numSegments: number;
  dateCreated: Date;
  dateUpdated: Date;
}

// A status callback exactly as Twilio sends it to the message's StatusCallback URL.
export interface SignedTwilioCallback {
  url: string;
  // Form-encoded.
  body: string;
  // Lower-cased names.
  headers: Record<string, string>;
}

export interface TwilioEmulator extends ProviderEmulator {
  message(sid: string): TwilioMessage | undefined;
  // Messages whose StatusCallback URL names this attempt in its `attempt`
  // query parameter, as OneRouter's callback URLs do.
  messagesForAttempt(attemptId: string): TwilioMessage[];
  // Moves a message to a new status, as the carrier's report would, and
  // returns the signed status callback Twilio sends for it; with `deliver`,
  // also POSTs it to the StatusCallback URL (once, without Twilio's retries).
  reportStatus(
    sid: string,
    status: Exclude<TwilioMessageStatus, "accepted" | "queued">,
    options?: { errorCode?: number; deliver?: boolean },
  ): Promise<SignedTwilioCallback>;
  // Changes what the Pricing API publishes for a destination, as Twilio does when it reprices.
  setSmsPrice(country: string, price: string): void;
}

const apiVersion = "2010-04-01";

// List prices per segment in USD (approximate) for the destinations the Pricing API is asked about.
const defaultSmsPrices: Record<string, string> = { US: "0.0079", CA: "0.0079", GB: "0.0463", DE: "0.0960", IN: "0.0832", AU: "0.0515", BR: "0.0455" };
const bodyLimit = 1600;

interface TwilioErrorBody {
  code: number;
  message: string;
  more_info: string;
  status: number;
}

function twilioError(status: number, code: number, message: string): EmulatorReply {
  const body: TwilioErrorBody = { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status };
  return { status, body };
}

// The magic numbers Twilio documents for test credentials; the emulator
// treats every account as a test account.
const magicDestinations: Record<string, [number, (to: string) => string]> = {
  "+15005550001": [21211, (to) => `The 'To' number ${to} is not a valid phone number.`],
  "+15005550002": [21612, (to) => `The 'To' phone number: ${to}, is not currently reachable via SMS.`],
  "+15005550003": [
    21408,
    (to) => `Permission to send an SMS has not been enabled for the region indicated by the 'To' number: ${to}.`,
  ],
  "+15005550004": [21610, () => "Attempt to send to unsubscribed recipient"],
  "+15005550009": [21614, (to) => `'To' number ${to} is not a valid mobile number`],
};
const magicSenders: Record<string, [number, (from: string) => string]> = {
  "+15005550001": [
    21212,
    (from) => `The 'From' number ${from} is not a valid phone number, shortcode, or alphanumeric sender ID.`,
  ],
  "+15005550007": [
    21606,
    (from) =>
      `The 'From' phone number provided (${from}) is not a valid message-capable Twilio phone number for this destination.`,
  ],
  "+15005550008": [21611, () => "This 'From' number has exceeded the maximum number of queued messages"],
};

const e164 = /^\+[1-9]\d{6,14}$/;

function twilioSid(prefix: string): string {
  return prefix + randomBytes(16).toString("hex");
}

// Twilio's dates are RFC 2822 with a numeric zone.
function rfc2822(date: Date): string {
  return date.toUTCString().replace("GMT", "+0000");
}

// The carrier's "done" time in status callbacks: YYMMDDhhmm.
function rawDlrDoneDate(date: Date): string {
  return date.toISOString().replace(/^\d\d(\d\d)-(\d\d)-(\d\d)T(\d\d):(\d\d).*$/, "$1$2$3$4$5");
}

export function twilioEmulator(options: TwilioEmulatorOptions): TwilioEmulator {
  const messages = new Map<string, TwilioMessage>();
  const accountCreated = new Date();
  const smsPrices = new Map(Object.entries(options.smsPrices ?? defaultSmsPrices));

  function authenticated(req: EmulatorRequest): boolean {
    const [scheme = "", encoded = ""] = (headerValue(req.headers.authorization) ?? "").split(" ", 2);
    if (!/^basic$/i.test(scheme)) return false;
    const decoded = Buffer.from(encoded, "base64").toString("utf8");
    const separator = decoded.indexOf(":");
    return (
      separator > 0 &&
      decoded.slice(0, separator) === options.accountSid &&
      decoded.slice(separator + 1) === options.authToken
    );
  }

  function handle(req: EmulatorRequest): EmulatorReply {
    const reply = route(req);
    return { ...reply, headers: { ...reply.headers, "twilio-request-id": twilioSid("RQ") } };
  }

  function route(req: EmulatorRequest): EmulatorReply {
    if (!authenticated(req)) {
      return {
        ...twilioError(401, 20003, "Authenticate"),
        headers: { "www-authenticate": 'Basic realm="Twilio API"' },
      };
    }
    const pricing = /^\/v1\/Messaging\/Countries\/([A-Za-z]{2})$/.exec(req.path);
    if (pricing && req.method === "GET") return messagingCountry(pricing[1]!.toUpperCase()) ?? notFound(req.path);
    const path = new RegExp(`^/${apiVersion}/Accounts/([^/]+?)(/Messages)?\\.json$`).exec(req.path);
    if (!path || path[1] !== options.accountSid) return notFound(req.path);
    if (path[2] === undefined && req.method === "GET") return { status: 200, body: accountResource() };
    if (path[2] !== undefined && req.method === "POST") {
      return createMessage(new URLSearchParams(req.rawBody.toString("utf8")));
    }
    return twilioError(405, 20004, "Method not allowed");
  }

  // The Pricing API's Messaging Country resource (pricing.twilio.com/v1):
  // one carrier per destination, priced for mobile numbers.
  function messagingCountry(isoCountry: string): EmulatorReply | undefined {
    const price = smsPrices.get(isoCountry);
    if (price === undefined) return undefined;
    return {
      status: 200,
      body: {
        country: isoCountry,
        iso_country: isoCountry,
        outbound_sms_prices: [{ carrier: "Emulated Carrier", mcc: "310", mnc: "004", prices: [{ number_type: "mobile", base_price: price, current_price: price }] }],
        inbound_sms_prices: [{ number_type: "local", base_price: price, current_price: price }],
        price_unit: "USD",
        url: `https://pricing.twilio.com/v1/Messaging/Countries/${isoCountry}`,
      },
    };
  }

  function notFound(path: string): EmulatorReply {
    return twilioError(404, 20404, `The requested resource ${path} was not found`);
  }

  function accountResource() {
    const uri = `/${apiVersion}/Accounts/${options.accountSid}.json`;
    return {
      sid: options.accountSid,
      owner_account_sid: options.accountSid,
      friendly_name: "OneRouter emulated account",
      status: "active",
      type: "Full",
      date_created: rfc2822(accountCreated),
      date_updated: rfc2822(accountCreated),
      uri,
      subresource_uris: { messages: uri.replace(/\.json$/, "/Messages.json") },
    };
  }

  function createMessage(params: URLSearchParams): EmulatorReply {
    const to = params.get("To");
    const from = params.get("From");
    const messagingServiceSid = params.get("MessagingServiceSid");
    const body = params.get("Body");
    const statusCallback = params.get("StatusCallback");
    if (!to) return twilioError(400, 21604, "A 'To' phone number is required.");
    if (!from && !messagingServiceSid) return twilioError(400, 21603, "A 'From' phone number is required.");
    if (!body) return twilioError(400, 21602, "Message body is required.");
    if (body.length > bodyLimit) {
      return twilioError(400, 21617, "The concatenated message body exceeds the 1600 character limit.");
    }
    if (statusCallback !== null && !isHttpUrl(statusCallback)) {
      return twilioError(400, 21609, "Invalid StatusCallback");
    }
    const destination = magicDestinations[to];
    if (destination) return twilioError(400, destination[0], destination[1](to));
    if (!e164.test(to)) return twilioError(400, 21211, `The 'To' number ${to} is not a valid phone number.`);
    const sender = from ? magicSenders[from] : undefined;
    if (from && sender) return twilioError(400, sender[0], sender[1](from));

    const now = new Date();
    const message: TwilioMessage = {
      sid: twilioSid("SM"),
      to,
      from,
      messagingServiceSid,
      body,
      statusCallback,
      // Through a Messaging Service without a From, Twilio first accepts the
      // message and picks the sender later.
      status: from ? "queued" : "accepted",
      errorCode: null,
      numSegments: smsSegments(body),
      dateCreated: now,
      dateUpdated: now,
    };
    messages.set(message.sid, message);
    return { status: 201, body: messageResource(message) };
  }

  function messageResource(message: TwilioMessage) {
    const uri = `/${apiVersion}/Accounts/${options.accountSid}/Messages/${message.sid}.json`;
    return {
      account_sid: options.accountSid,
      api_version: apiVersion,
      body: message.body,
      date_created: rfc2822(message.dateCreated),
      date_sent: null,
      date_updated: rfc2822(message.dateUpdated),
      direction: "outbound-api",
      error_code: message.errorCode,
      error_message: null,
      from: message.from,
      messaging_service_sid: message.messagingServiceSid,
      num_media: "0",
      num_segments: String(message.numSegments),
      price: null,
      price_unit: "USD",
      sid: message.sid,
      status: message.status,
      subresource_uris: { media: uri.replace(/\.json$/, "/Media.json") },
      to: message.to,
      uri,
    };
  }

  async function reportStatus(
    sid: string,
    status: Exclude<TwilioMessageStatus, "accepted" | "queued">,
    reportOptions: { errorCode?: number; deliver?: boolean } = {},
  ): Promise<SignedTwilioCallback> {
    const message = messages.get(sid);
    if (!message) throw new UnknownEmulatedObject(`the Twilio emulator has no message ${sid}`);
    if (!message.statusCallback) throw new Error(`message ${sid} has no StatusCallback; Twilio would not call back`);
    const failed = status === "failed" || status === "undelivered";
    message.status = status;
    message.errorCode = failed ? (reportOptions.errorCode ?? 30003) : null;
    message.dateUpdated = new Date();

    const params: Record<string, string> = {
      AccountSid: options.accountSid,
      ApiVersion: apiVersion,
      MessageSid: message.sid,
      MessageStatus: status,
      SmsSid: message.sid,
      SmsStatus: status,
      To: message.to,
      ...(message.from && { From: message.from }),
      ...(message.messagingServiceSid && { MessagingServiceSid: message.messagingServiceSid }),
      ...(message.errorCode !== null && { ErrorCode: String(message.errorCode) }),
      ...((status === "delivered" || status === "undelivered") && {
        RawDlrDoneDate: rawDlrDoneDate(message.dateUpdated),
      }),
    };
    const callback: SignedTwilioCallback = {
      url: message.statusCallback,
      body: new URLSearchParams(params).toString(),
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-twilio-signature": signTwilioRequest(options.authToken, message.statusCallback, params),
        "i-twilio-idempotency-token": randomUUID(),
        "user-agent": "TwilioProxy/1.1",
      },
    };
    // An unreachable callback URL is the receiver's problem, as at Twilio.
    if (reportOptions.deliver) await postWebhook(callback.url, callback.body, callback.headers).catch(() => undefined);
    return callback;
  }

  return {
    name: "twilio",
    handle,
    // Twilio documents 20503 as the service being temporarily unavailable,
    // to be retried with back-off.
    serverError: () => twilioError(503, 20503, "Service Unavailable"),
    rateLimited: () => twilioError(429, 20429, "Too Many Requests"),
    message: (sid) => messages.get(sid),
    messagesForAttempt(attemptId) {
      return [...messages.values()].filter((message) => {
        if (!message.statusCallback) return false;
        return new URL(message.statusCallback).searchParams.get("attempt") === attemptId;
      });
    },
    setSmsPrice: (country, price) => void smsPrices.set(country.toUpperCase(), price),
    reportStatus,
  };
}
