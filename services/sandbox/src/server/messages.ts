import { postWebhook, type EmulatorReply, type EmulatorRequest } from "../emulator-harness";
import type { SandboxMemory } from "./account";
import { Kept } from "./kept";
import { sandboxEvent, signSandboxEvent } from "./webhooks";
import { SandboxError, invalid, isHttpUrl, newId, nowSeconds, type JsonObject } from "./wire";

// The sandbox's messaging side: SMS and email kept in memory per API key,
// bounded as payments are (kept.ts).
// A message is accepted as queued, then reported sent and finally delivered
// (or failed, or undelivered, for the test destinations below) through signed
// callbacks to the message's status_callback_url, one after the other, each
// once and without retries, as hosted providers do.

// Destinations with a scripted fate; any other is delivered.
const testDestinations: Record<string, TestFate> = {
  "+15005550001": { kind: "refuse", code: "invalid_destination", message: "The number cannot receive SMS." },
  "+15005550002": { kind: "fail", status: "failed", code: "carrier_rejected", message: "The carrier rejected the message." },
  "+15005550003": { kind: "fail", status: "undelivered", code: "unreachable", message: "The handset was unreachable." },
  "rejected@sandbox.test": { kind: "refuse", code: "invalid_destination", message: "The address cannot receive email." },
  "bounce@sandbox.test": { kind: "fail", status: "failed", code: "bounced", message: "The receiving server bounced the message." },
  "undeliverable@sandbox.test": {
    kind: "fail",
    status: "undelivered",
    code: "mailbox_unavailable",
    message: "The mailbox was unavailable until the message expired.",
  },
};

// How long the carrier (or receiving server) seems to take between steps.
const stepDelayMs = 100;
const listLimit = 100;
const e164 = /^\+[1-9]\d{6,14}$/;
const emailAddress = /^[^\s@]+@[^\s@]+$/;

type TestFate =
  | { kind: "refuse"; code: string; message: string }
  | { kind: "fail"; status: "failed" | "undelivered"; code: string; message: string };

type MessageStatus = "queued" | "sent" | "delivered" | "failed" | "undelivered";

interface SandboxMessage {
  id: string;
  attemptId?: string;
  channel: "sms" | "email";
  from?: string;
  to: string[];
  cc: string[];
  bcc: string[];
  subject?: string;
  status: MessageStatus;
  failure?: { code: string; message: string };
  statusCallbackUrl?: string;
  created: number;
}

export interface SandboxMessaging {
  // Answers the /v1/messages routes, throwing SandboxError to refuse;
  // undefined for any other path.
  route(apiKey: string, req: EmulatorRequest, body: JsonObject): EmulatorReply | undefined;
  // How many messages an account took for an attempt.
  messagesForAttempt(apiKey: string, attemptId: string): number;
}

export function sandboxMessaging(memory: SandboxMemory): SandboxMessaging {
  // Message id -> the message and the API key that sent it.
  const kept = new Kept<{ apiKey: string; message: SandboxMessage }>(memory.limits, memory.now);

  const messagesOf = (apiKey: string) => kept.newestFirst().flatMap((m) => (m.apiKey === apiKey ? [m.message] : []));

  function send(apiKey: string, body: JsonObject): EmulatorReply {
    const channel = body.channel;
    if (channel !== "sms" && channel !== "email") throw invalid("channel must be sms or email");
    const callbackUrl = optionalString(body.status_callback_url);
    if (callbackUrl !== undefined && !isHttpUrl(callbackUrl)) throw invalid("status_callback_url must be an http(s) URL");
    const message: SandboxMessage = {
      id: newId("sbx_msg"),
      attemptId: optionalString(body.attempt_id),
      channel,
      from: optionalString(body.from),
      to: [],
      cc: stringList(body.cc),
      bcc: stringList(body.bcc),
      status: "queued",
      statusCallbackUrl: callbackUrl,
      created: nowSeconds(),
    };
    if (channel === "sms") {
      const to = optionalString(body.to);
      if (!to || !e164.test(to)) throw invalid("to must be an E.164 number");
      if (!optionalString(body.body)) throw invalid("body is required");
      message.to = [to];
    } else {
      message.to = stringList(body.to);
      message.subject = optionalString(body.subject);
      const recipients = [...message.to, ...message.cc, ...message.bcc];
      if (message.to.length === 0 || recipients.some((r) => !emailAddress.test(r))) throw invalid("to must list email addresses");
      if (!optionalString(body.text) && !optionalString(body.html)) throw invalid("text or html is required");
    }
    const fates = [...message.to, ...message.cc, ...message.bcc].map((r) => testDestinations[r]).filter((f) => f !== undefined);
    const refusal = fates.find((f) => f.kind === "refuse");
    if (refusal) throw new SandboxError(400, refusal.code, refusal.message);
    kept.add(message.id, { apiKey, message });
    void deliver(apiKey, message, fates.find((f) => f.kind === "fail"));
    return { status: 200, body: messageJson(message) };
  }

  // Walks the message through its lifecycle, reporting each step.
  async function deliver(apiKey: string, message: SandboxMessage, fate: Extract<TestFate, { kind: "fail" }> | undefined) {
    const steps: MessageStatus[] = ["sent", fate?.status ?? "delivered"];
    for (const status of steps) {
      await new Promise((resolve) => setTimeout(resolve, stepDelayMs).unref());
      message.status = status;
      if (fate && status === fate.status) message.failure = { code: fate.code, message: fate.message };
      if (!message.statusCallbackUrl) continue;
      const { body, headers } = signSandboxEvent(apiKey, sandboxEvent(`message.${status}`, messageJson(message)));
      await postWebhook(message.statusCallbackUrl, body, headers).catch(() => undefined);
    }
  }

  return {
    messagesForAttempt: (apiKey, attemptId) => messagesOf(apiKey).filter((m) => m.attemptId === attemptId).length,
    route(apiKey, req, body) {
      const { method, path } = req;
      if (path === "/v1/messages" && method === "POST") return send(apiKey, body);
      if (path === "/v1/messages" && method === "GET") {
        const attemptId = req.query.get("attempt_id");
        const matching = messagesOf(apiKey)
          .filter((m) => attemptId === null || m.attemptId === attemptId)
          .slice(0, listLimit);
        return { status: 200, body: { object: "list", data: matching.map(messageJson) } };
      }
      const one = /^\/v1\/messages\/([^/]+)$/.exec(path);
      if (one?.[1] && method === "GET") {
        const message = kept.get(one[1]);
        if (message?.apiKey !== apiKey) throw new SandboxError(404, "resource_missing", `No such message: ${one[1]}`);
        return { status: 200, body: messageJson(message.message) };
      }
      return undefined;
    },
  };
}

function messageJson(m: SandboxMessage) {
  return {
    id: m.id,
    object: "message",
    attempt_id: m.attemptId ?? null,
    channel: m.channel,
    from: m.from ?? null,
    to: m.to,
    cc: m.cc,
    bcc: m.bcc,
    subject: m.subject ?? null,
    status: m.status,
    failure: m.failure ?? null,
    created: m.created,
  };
}

function optionalString(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}
