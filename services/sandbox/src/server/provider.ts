import type { EmulatorReply, EmulatorRequest, ProviderEmulator } from "../emulator-harness";
import { SandboxAccount, SandboxMemory } from "./account";
import { rateLimited, readBehaviour, serviceUnavailable, type Behaviour } from "./behaviour";
import { idempotent } from "./idempotency";
import { defaultKeptLimits, type KeptLimits } from "./kept";
import { paymentJson } from "./objects";
import { sandboxMessaging, type SandboxMessaging } from "./messages";
import { SandboxPayments } from "./payments";
import { createRefund } from "./refunds";
import { SandboxError, errorReply, header, parseBody } from "./wire";

// OneRouter's own simulated payment provider, which also serves messages
// (see messages.ts). It keeps what it made in memory, bounded (kept.ts),
// scoped by API key (see account.ts); callers ask for misbehaviour per request (see behaviour.ts).

// Any `sk_sandbox_` key with at least 16 letters or digits after the prefix.
const apiKeyPattern = /^sk_sandbox_[A-Za-z0-9]{16,}$/;

export interface SandboxOptions {
  // Base URL customers' browsers reach the sandbox on, for requires_action
  // redirects; defaults to the Host the API request came in on.
  publicUrl?: string;
  // How much of each kind of object it keeps, and for how long; the clock it ages them by.
  limits?: KeptLimits;
  now?: () => number;
}

export function sandboxProvider(options: SandboxOptions = {}): ProviderEmulator & Pick<SandboxMessaging, "messagesForAttempt"> {
  const memory = new SandboxMemory(options.limits ?? defaultKeptLimits, options.now);
  const payments = new SandboxPayments(memory);
  const messaging = sandboxMessaging(memory);

  function route(account: SandboxAccount, req: EmulatorRequest, baseUrl: string): EmulatorReply {
    try {
      const body = req.method === "POST" ? parseBody(req.rawBody) : {};
      const { method, path } = req;
      const messagesReply = messaging.route(account.apiKey, req, body);
      if (messagesReply) return messagesReply;
      if (path === "/v1/account" && method === "GET") return { status: 200, body: account.json() };
      if (path === "/v1/payments" && method === "POST") return payments.create(account, body, baseUrl);
      if (path === "/v1/payments" && method === "GET") return payments.list(account, req.query);
      if (path === "/v1/refunds" && method === "POST") return createRefund(account, body);
      const payment = /^\/v1\/payments\/([^/]+)$/.exec(path);
      if (payment?.[1] && method === "GET") return { status: 200, body: paymentJson(account.payment(payment[1])) };
      const action = /^\/v1\/payments\/([^/]+)\/(capture|cancel)$/.exec(path);
      if (action?.[1] && method === "POST") {
        return action[2] === "capture" ? payments.capture(account, action[1], body) : payments.cancel(account, action[1]);
      }
      return errorReply(404, "invalid_request_error", "unknown_route", `No route for ${method} ${path}`);
    } catch (err) {
      return refusal(err);
    }
  }

  return {
    name: "sandbox",
    messagesForAttempt: messaging.messagesForAttempt,
    async handle(req) {
      const actionPage = /^\/authenticate\/([0-9a-f]+)$/.exec(req.path);
      if (actionPage?.[1] && req.method === "GET") return payments.completeAction(actionPage[1]);

      const apiKey = /^Bearer (.+)$/.exec(header(req.headers, "authorization") ?? "")?.[1];
      if (!apiKey || !apiKeyPattern.test(apiKey)) {
        return errorReply(401, "authentication_error", "invalid_api_key", "Invalid API key; sandbox keys look like sk_sandbox_<16+ letters or digits>");
      }
      let behaviour: Behaviour;
      try {
        behaviour = readBehaviour(req.headers);
      } catch (err) {
        return refusal(err);
      }
      // Math.random() is in [0, 1), so rates 0 and 1 are exact.
      const unavailable = Math.random() < behaviour.failureRate;
      let reply: EmulatorReply;
      if (unavailable) {
        reply = serviceUnavailable();
      } else {
        const account = new SandboxAccount(apiKey, memory);
        const baseUrl = options.publicUrl ?? `http://${header(req.headers, "host") ?? "127.0.0.1"}`;
        const run = () => route(account, req, baseUrl);
        reply = req.method === "POST" ? idempotent(account, req, run) : run();
      }
      // A request is processed when it arrives and only its answer is
      // delayed, so asking what became of it always finds it.
      if (behaviour.addedLatencyMs > 0) await new Promise((r) => setTimeout(r, behaviour.addedLatencyMs));
      // The request is processed; the answer is lost. The caller times out
      // and has to ask what happened.
      if (!unavailable && behaviour.simulateTimeout && req.method === "POST") return new Promise<EmulatorReply>(() => {});
      return reply;
    },
    serverError: serviceUnavailable,
    rateLimited,
  };
}

// A SandboxError is an answer; anything else is a bug and yields the harness's 500.
function refusal(err: unknown): EmulatorReply {
  if (err instanceof SandboxError) return errorReply(err.status, "invalid_request_error", err.code, err.message);
  throw err;
}
