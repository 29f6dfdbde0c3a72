import http from "node:http";
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { keptAliveAgentOptions, sendResendingOnClosedReuse, watchForClosedOnReuse } from "@onerouter/core";

// Failure injection shared by every provider emulator. Tests and `onerouter
// dev` flip these through the in-process API or POST /_emulator/failure.
export type FailureMode =
  | "none"
  // Connection refused: the listener is closed until the mode changes.
  | "down"
  // Answers after `delayMs`.
  | "slow"
  // The provider's documented "not processed" 5xx.
  | "error_5xx"
  // The provider's rate-limit answer.
  | "rate_limited"
  // A proxy or load balancer in front of the provider answers `status`
  // (default 502) with a JSON body of its own, not the provider's.
  | "proxy_error"
  // The request is processed, but no answer is ever sent: the caller times
  // out after the provider took the money.
  | "timeout_after_accept"
  // The request is processed, then its connection is reset without an answer.
  | "reset_after_accept"
  // A kept-alive connection is closed as the next request arrives on it,
  // unread: a server's idle timeout crossing the client's reuse. Requests on
  // new connections are served.
  | "close_reused"
  // As close_reused, and the provider goes "down" at that moment: the
  // request was on a connection that was up, and its resend is refused.
  | "down_on_reuse";

export interface FailureSettings {
  mode: FailureMode;
  delayMs?: number;
  // The HTTP status of "proxy_error".
  status?: number;
  // Apply to this many requests, then go back to "none"; unset means until changed.
  count?: number;
}

export interface EmulatorRequest {
  method: string;
  // Path without the query string.
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  rawBody: Buffer;
}

export interface EmulatorReply {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface ProviderEmulator {
  name: string;
  // Answers one request; throwing yields a generic 500.
  handle(req: EmulatorRequest): Promise<EmulatorReply> | EmulatorReply;
  // The provider's wire shape for its 5xx and rate-limit answers.
  serverError(): EmulatorReply;
  rateLimited(): EmulatorReply;
}

export interface RunningEmulator {
  url: string;
  port: number;
  setFailure(settings: FailureSettings): Promise<void>;
  // The failure in force, with what is left of its count.
  failure(): FailureSettings;
  // Requests answered or swallowed since start, for "did it reach the provider" checks.
  requestCount(): number;
  // Connections accepted since start.
  connectionCount(): number;
  close(): Promise<void>;
}

export interface EmulatorListenOptions {
  port?: number;
  host?: string;
  // Serves HTTPS with this key and certificate (PEM) instead of HTTP.
  tls?: { key: string; cert: string };
}

export async function startEmulator(emulator: ProviderEmulator, options: EmulatorListenOptions = {}): Promise<RunningEmulator> {
  const host = options.host ?? "127.0.0.1";
  let failure: FailureSettings = { mode: "none" };
  let requests = 0;
  let connections = 0;
  const sockets = new Set<Socket>();
  const held = new Set<http.ServerResponse>();
  // Requests each open connection has carried.
  const carried = new WeakMap<Socket, number>();

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const earlier = carried.get(req.socket) ?? 0;
    carried.set(req.socket, earlier + 1);
    if (earlier > 0 && failure.mode === "close_reused") {
      consumeFailure();
      req.socket.destroy();
      return;
    }
    if (earlier > 0 && failure.mode === "down_on_reuse") {
      // Stops listening at once, then closes every connection, this one too.
      void applyFailure({ mode: "down" });
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void respond(req, res, Buffer.concat(chunks));
    });
  };
  const server = options.tls ? https.createServer(options.tls, onRequest) : http.createServer(onRequest);
  server.on(options.tls ? "secureConnection" : "connection", (socket: Socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  function consumeFailure(): FailureSettings {
    const current = failure;
    if (current.mode !== "none" && current.count !== undefined) {
      current.count -= 1;
      if (current.count <= 0) failure = { mode: "none" };
    }
    return current;
  }

  async function respond(req: http.IncomingMessage, res: http.ServerResponse, rawBody: Buffer) {
    const url = new URL(req.url ?? "/", "http://emulator");
    if (url.pathname === "/_emulator/failure" && req.method === "POST") {
      await applyFailure(JSON.parse(rawBody.toString("utf8") || "{}") as FailureSettings);
      return send(res, { status: 200, body: { mode: failure.mode } });
    }
    requests += 1;
    const request: EmulatorRequest = {
      method: req.method ?? "GET",
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      rawBody,
    };
    // close_reused and down_on_reuse act on arrival, above.
    const active: FailureSettings = failure.mode === "close_reused" || failure.mode === "down_on_reuse" ? { mode: "none" } : consumeFailure();
    if (active.mode === "error_5xx") return send(res, emulator.serverError());
    if (active.mode === "rate_limited") return send(res, emulator.rateLimited());
    if (active.mode === "proxy_error") return send(res, proxyError(active.status ?? 502));
    if (active.mode === "slow") await new Promise((r) => setTimeout(r, active.delayMs ?? 2000));
    let reply: EmulatorReply;
    try {
      reply = await emulator.handle(request);
    } catch (err) {
      reply = { status: 500, body: { error: String(err) } };
    }
    if (active.mode === "reset_after_accept") {
      res.socket?.resetAndDestroy();
      return;
    }
    if (active.mode === "timeout_after_accept") {
      held.add(res);
      res.on("close", () => held.delete(res));
      return;
    }
    send(res, reply);
  }

  function send(res: http.ServerResponse, reply: EmulatorReply) {
    const body =
      reply.body === undefined ? "" : typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body);
    res.writeHead(reply.status, { "content-type": "application/json", ...reply.headers });
    res.end(body);
  }

  async function listen(port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    return (server.address() as AddressInfo).port;
  }

  async function stopListening() {
    for (const res of held) res.destroy();
    for (const socket of sockets) socket.destroy();
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    // Clients in this process see their kept connections close before their
    // next request, as after an outage longer than an instant; a request
    // that meets a connection closing under it is "down_on_reuse".
    await new Promise((resolve) => setTimeout(resolve, 20));
  }

  async function applyFailure(settings: FailureSettings) {
    const wasDown = failure.mode === "down";
    failure = { ...settings };
    if (settings.mode === "down" && !wasDown) await stopListening();
    if (settings.mode !== "down" && wasDown) await listen(port);
  }

  const port = await listen(options.port ?? 0);
  return {
    url: `${options.tls ? "https" : "http"}://${host}:${port}`,
    port,
    setFailure: applyFailure,
    failure: () => ({ ...failure }),
    requestCount: () => requests,
    connectionCount: () => connections,
    close: stopListening,
  };
}

// What a gateway in front of a provider answers (Kong's shape): JSON, but
// none of the provider's fields.
function proxyError(status: number): EmulatorReply {
  return { status, body: { message: `${http.STATUS_CODES[status] ?? "Error"} (from the gateway)` } };
}

// Posts a signed webhook the way a provider would; failures are the
// receiver's problem, as they are for the real provider. Sent with Node's
// own client on connections kept alive per origin: fetch cost the sandbox
// about three times the CPU per webhook, which under load took cores from
// the platform it runs beside. A webhook whose kept connection the receiver
// closed before answering goes once more on a fresh one; a receiver may
// get a webhook twice, as from any provider.
export function postWebhook(url: string, body: string, headers: Record<string, string>): Promise<number> {
  return sendResendingOnClosedReuse(webhookAgents, (agents) => sendWebhook(url, body, headers, agents));
}

const webhookAgents = {
  keptAlive: { http: new http.Agent(keptAliveAgentOptions), https: new https.Agent(keptAliveAgentOptions) },
  fresh: { http: new http.Agent(), https: new https.Agent() },
};

function sendWebhook(url: string, body: string, headers: Record<string, string>, agents: { http: http.Agent; https: https.Agent }): Promise<number> {
  const target = new URL(url);
  const secure = target.protocol === "https:";
  return new Promise((resolve, reject) => {
    const request = (secure ? https : http).request(
      target,
      { method: "POST", agent: secure ? agents.https : agents.http, headers: { "content-type": "application/json", ...headers, "content-length": Buffer.byteLength(body) } },
      (response) => {
        response.on("error", reject);
        response.on("end", () => resolve(response.statusCode ?? 0));
        response.resume();
      },
    );
    watchForClosedOnReuse(request);
    request.on("error", reject);
    request.end(body);
  });
}
