import { randomBytes } from "node:crypto";
import { postWebhook, type EmulatorReply, type EmulatorRequest, type ProviderEmulator } from "@onerouter/sandbox";
import { formatAddress, parseAddressList, type MailgunAddress } from "./addresses";
import { buildEventData, signWebhook, type MailgunOutcome, type SignedMailgunWebhook } from "./webhooks";
import { headerValue } from "../http";
import { UnknownEmulatedObject } from "../dev-profile";

export { mailgunSignature } from "./webhooks";
export type { MailgunOutcome, MailgunWebhookPayload, SignedMailgunWebhook } from "./webhooks";
export type { MailgunAddress } from "./addresses";

// An in-memory Mailgun: the Messages API (POST /v3/{domain}/messages, form
// encoded or multipart), the domain lookup (GET /v4/domains/{domain}) and
// signed webhooks. It speaks Mailgun's wire format: basic auth api:<key>,
// `{"message": ...}` bodies, a bare "Forbidden" on bad keys.

export interface MailgunEmulatorOptions {
  // The account's private API key; any other key gets Mailgun's 401.
  apiKey: string;
  // The one sending domain of the account.
  domain: string;
  // The account's HTTP webhook signing key.
  webhookSigningKey: string;
  // Where the domain's webhooks post; reported events are posted there.
  webhookUrl?: string;
}

export interface MailgunMessage {
  // The Message-Id, without the angle brackets the send answers it in.
  id: string;
  from: string;
  to: MailgunAddress[];
  cc: MailgunAddress[];
  bcc: MailgunAddress[];
  subject: string;
  text?: string;
  html?: string;
  // `h:` fields, by header name.
  headers: Record<string, string>;
  // `v:` fields: the user variables echoed on every event.
  variables: Record<string, string>;
  size: number;
  acceptedAt: Date;
}

export interface MailgunEmulator extends ProviderEmulator {
  // By Message-Id, with or without angle brackets.
  message(id: string): MailgunMessage | undefined;
  // Accepted messages whose user variable `name` is `value`.
  countWithVariable(name: string, value: string): number;
  // Reports an outcome for one recipient of a sent message (default: the
  // first `to`): builds the event, signs it (signedAt in unix seconds,
  // default now) and posts it to the webhook URL when one is configured,
  // once, without Mailgun's retries.
  reportEvent(
    id: string,
    outcome: MailgunOutcome,
    options?: { recipient?: string; signedAt?: number },
  ): Promise<SignedMailgunWebhook>;
}

function messageReply(status: number, message: string): EmulatorReply {
  return { status, body: { message } };
}

function utcStamp(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, "").slice(0, 14);
}

// Mailgun's Message-Ids: `<UTC yyyymmddhhmmss>.<random hex>@<domain>`.
function newMessageId(domain: string, at: Date): string {
  return `${utcStamp(at)}.${randomBytes(8).toString("hex")}@${domain}`;
}

function bareId(id: string): string {
  return id.replace(/^<(.*)>$/, "$1");
}

export function mailgunEmulator(options: MailgunEmulatorOptions): MailgunEmulator {
  const messages = new Map<string, MailgunMessage>();

  function authenticated(req: EmulatorRequest): boolean {
    const match = /^Basic (.+)$/.exec(headerValue(req.headers.authorization) ?? "");
    if (!match) return false;
    const decoded = Buffer.from(match[1] as string, "base64").toString("utf8");
    return decoded === `api:${options.apiKey}`;
  }

  async function readForm(req: EmulatorRequest): Promise<FormData | undefined> {
    const contentType = headerValue(req.headers["content-type"]) ?? "";
    if (!/^(multipart\/form-data|application\/x-www-form-urlencoded)\b/i.test(contentType)) return undefined;
    try {
      return await new Response(new Uint8Array(req.rawBody), { headers: { "content-type": contentType } }).formData();
    } catch {
      return undefined;
    }
  }

  async function sendMessage(req: EmulatorRequest): Promise<EmulatorReply> {
    const form = await readForm(req);
    if (!form) return messageReply(400, "Bad Request");
    const values = (name: string) => form.getAll(name).filter((v): v is string => typeof v === "string");
    const first = (name: string) => values(name)[0];

    const from = first("from");
    if (!from) return messageReply(400, "from parameter is missing");
    if (values("to").length === 0) return messageReply(400, "to parameter is missing");
    const lists: Record<"from" | "to" | "cc" | "bcc", MailgunAddress[]> = { from: [], to: [], cc: [], bcc: [] };
    for (const field of ["from", "to", "cc", "bcc"] as const) {
      const parsed = parseAddressList(values(field));
      if (!parsed) return messageReply(400, `'${field}' parameter is not a valid address. please check documentation`);
      lists[field] = parsed;
    }
    const subject = first("subject");
    if (!subject) return messageReply(400, "subject parameter is missing");
    const text = first("text");
    const html = first("html");
    if (!text && !html && !first("template")) {
      return messageReply(400, "Need at least one of 'text', 'html' or 'template' parameters specified");
    }

    const headers: Record<string, string> = {};
    const variables: Record<string, string> = {};
    form.forEach((value, name) => {
      if (typeof value !== "string") return;
      if (name.startsWith("h:")) headers[name.slice(2)] = value;
      if (name.startsWith("v:")) variables[name.slice(2)] = value;
    });
    const acceptedAt = new Date();
    const id = newMessageId(options.domain, acceptedAt);
    messages.set(id, {
      id,
      from: formatAddress(lists.from[0] as MailgunAddress),
      to: lists.to,
      cc: lists.cc,
      bcc: lists.bcc,
      subject,
      ...(text && { text }),
      ...(html && { html }),
      headers,
      variables,
      size: req.rawBody.length,
      acceptedAt,
    });
    return { status: 200, body: { id: `<${id}>`, message: "Queued. Thank you." } };
  }

  function domainReply(): EmulatorReply {
    return {
      status: 200,
      body: {
        domain: {
          created_at: "Mon, 06 Jan 2025 10:00:00 GMT",
          id: "6633f2c9d8a4b1e0f2c3a4b5",
          is_disabled: false,
          name: options.domain,
          require_tls: false,
          skip_verification: false,
          smtp_login: `postmaster@${options.domain}`,
          spam_action: "disabled",
          state: "active",
          type: "custom",
          use_automatic_sender_security: true,
          web_prefix: "email",
          web_scheme: "https",
          wildcard: false,
        },
        receiving_dns_records: [],
        sending_dns_records: [],
      },
    };
  }

  async function handle(req: EmulatorRequest): Promise<EmulatorReply> {
    const send = /^\/v3\/([^/]+)\/messages$/.exec(req.path);
    const domain = /^\/v4\/domains\/([^/]+)$/.exec(req.path);
    if (!(send && req.method === "POST") && !(domain && req.method === "GET")) {
      return { status: 404, headers: { "content-type": "text/plain; charset=utf-8" }, body: "404 page not found" };
    }
    if (!authenticated(req)) return { status: 401, headers: { "content-type": "text/plain" }, body: "Forbidden" };
    const name = decodeURIComponent(((send ?? domain) as RegExpExecArray)[1] as string);
    if (name !== options.domain) return messageReply(404, `Domain not found: ${name}`);
    return send ? sendMessage(req) : domainReply();
  }

  return {
    name: "mailgun",
    handle,
    serverError: () => messageReply(500, "Internal Server Error"),
    rateLimited: () => messageReply(429, "Too Many Requests"),
    message: (id) => messages.get(bareId(id)),
    countWithVariable(name, value) {
      let count = 0;
      for (const message of messages.values()) if (message.variables[name] === value) count += 1;
      return count;
    },
    async reportEvent(id, outcome, reportOptions = {}) {
      const message = messages.get(bareId(id));
      if (!message) throw new UnknownEmulatedObject(`Mailgun emulator has no message ${id}`);
      const everyone = [...message.to, ...message.cc, ...message.bcc];
      const recipient = reportOptions.recipient
        ? everyone.find((address) => address.email === reportOptions.recipient)
        : message.to[0];
      if (!recipient) throw new Error(`${reportOptions.recipient} is not a recipient of ${id}`);
      const timestamp = reportOptions.signedAt ?? Math.floor(Date.now() / 1000);
      const eventData = buildEventData(
        {
          messageId: message.id,
          domain: options.domain,
          from: message.from,
          subject: message.subject,
          recipient,
          to: message.to,
          variables: message.variables,
          size: message.size,
        },
        outcome,
        timestamp,
      );
      const signed = signWebhook(eventData, options.webhookSigningKey, timestamp);
      if (options.webhookUrl) {
        // An unreachable endpoint is the receiver's problem here; Mailgun would retry.
        await postWebhook(options.webhookUrl, signed.body, signed.headers).catch(() => undefined);
      }
      return signed;
    },
  };
}
