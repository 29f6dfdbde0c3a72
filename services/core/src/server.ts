import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { createContextValues, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { clientAddressResolver, requestOriginResolver, type ClientAddressResolver, type RequestOrigin } from "./client-address";
import { registerHealth } from "./health";
import { registerReflection } from "./reflection";
import { remoteAddressKey, requestOriginKey } from "./context";
import { createCors } from "./cors";
import { accessLogInterceptor, logAccess, requestIdOf, rpcOutcomeKey, type Logger, type RpcOutcome } from "./logging";
import type { Metrics } from "./metrics";
import { createRpcHandler } from "./rpc-handler";
import { serverTimingInterceptor } from "./server-timing";
import { rpcTracingInterceptor } from "./tracing";

// One port serves Connect, gRPC and gRPC-Web over HTTP/1.1 and cleartext
// HTTP/2 (prior knowledge): the first bytes of each connection decide which
// server gets it, so curl, browsers and grpc clients all reach the same port.

export type HttpHandler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => void | Promise<void>;

export interface HttpRoute {
  // Matched against the path; the longest matching prefix wins.
  pathPrefix: string;
  handler: HttpHandler;
}

export interface ServerOptions {
  host: string;
  port: number;
  logger: Logger;
  metrics: Metrics;
  routes: (router: ConnectRouter) => void;
  interceptors: Interceptor[];
  httpRoutes?: HttpRoute[];
  maxRequestBytes: number;
  // Answers /readyz and the named services' health; throws when a dependency is not usable.
  readiness: () => Promise<void>;
  // grpc.health.v1 names served besides the RPC services (a worker's).
  healthNames?: readonly string[];
  shutdownGraceMs: number;
  // Peers whose X-Forwarded-For names the client (see client-address.ts).
  trustedProxyCidrs?: string[];
  // Browser origins allowed to call (see cors.ts); none when absent.
  corsOrigins?: string[];
}

export interface RunningServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

const http2Preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { logger } = options;
  let draining = false;
  let inFlight = 0;
  let drained: (() => void) | undefined;

  // Each request's RPC outcome, for its access-log line.
  const rpcOutcomes = new WeakMap<object, RpcOutcome>();
  const clientAddress = clientAddressResolver(options.trustedProxyCidrs ?? []);
  const requestOrigin = requestOriginResolver(options.trustedProxyCidrs ?? []);
  const rpcHandler = createRpcHandler({
    routes: (router) => {
      options.routes(router);
      registerHealth(router, { isDraining: () => draining, names: options.healthNames, readiness: options.readiness });
      registerReflection(router);
    },
    // The span is outermost, so the RPC's time and every call in it fall inside it.
    interceptors: [rpcTracingInterceptor, accessLogInterceptor, serverTimingInterceptor, options.metrics.rpcInterceptor, ...options.interceptors],
    readMaxBytes: options.maxRequestBytes,
    contextValues: (req) => requestContext(req, clientAddress, requestOrigin).set(rpcOutcomeKey, rpcOutcomes.get(req)),
  });

  const cors = createCors(options.corsOrigins ?? []);
  const httpRoutes = [...(options.httpRoutes ?? [])].sort((a, b) => b.pathPrefix.length - a.pathPrefix.length);

  async function handle(req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) {
    inFlight += 1;
    const started = performance.now();
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const requestId = requestIdOf(req.headers["x-request-id"]);
    res.setHeader("x-request-id", requestId);
    const rpc: RpcOutcome = {};
    rpcOutcomes.set(req, rpc);
    res.once("close", () => {
      inFlight -= 1;
      if (draining && inFlight === 0) drained?.();
      logAccess(logger, { method: req.method ?? "", path, status: res.statusCode, ...rpc, durationMs: Math.round(performance.now() - started), requestId });
    });
    if (cors(req, res)) return;
    try {
      if (path === "/healthz") return void sendText(res, 200, "ok\n");
      if (path === "/readyz") {
        if (draining) return void sendText(res, 503, "draining\n");
        try {
          await options.readiness();
          return void sendText(res, 200, "ready\n");
        } catch (err) {
          return void sendText(res, 503, `not ready: ${(err as Error).message}\n`);
        }
      }
      if (path === "/metrics") {
        const body = await options.metrics.registry.metrics();
        res.writeHead(200, { "content-type": options.metrics.registry.contentType });
        return void res.end(body);
      }
      const route = httpRoutes.find((r) => path.startsWith(r.pathPrefix));
      if (route) return void (await route.handler(req, res));
      await rpcHandler(req, res);
    } catch (err) {
      logger.error({ err, path }, "request failed");
      if (!res.headersSent) sendText(res, 500, "internal error\n");
      else res.end();
    }
  }

  const h1 = http.createServer({ requestTimeout: 0 }, (req, res) => void handle(req, res));
  const h2 = http2.createServer({}, (req, res) => void handle(req, res));
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  const sockets = new Set<net.Socket>();

  // Without Nagle's algorithm, as http.createServer's own sockets are: a
  // response written in two parts (headers, then the end of a chunked body)
  // would otherwise wait for the client's delayed ACK, up to 40 ms on Linux.
  const listener = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.once("error", () => socket.destroy());
    // Peek at the first bytes without consuming them: HTTP/2 sessions read
    // the socket natively and pick up what is unshifted back into it.
    const peek = () => {
      const head = socket.read() as Buffer | null;
      if (!head) return void socket.once("readable", peek);
      const n = Math.min(head.length, http2Preface.length);
      const isH2 = head.subarray(0, n).equals(http2Preface.subarray(0, n));
      socket.unshift(head);
      if (isH2 && head.length < http2Preface.length) return void socket.once("readable", peek);
      (isH2 ? h2 : h1).emit("connection", socket);
      if (!isH2) socket.resume();
    };
    socket.once("readable", peek);
  });

  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(options.port, options.host, () => {
      listener.off("error", reject);
      resolve();
    });
  });
  const port = (listener.address() as AddressInfo).port;
  const shownHost = options.host === "0.0.0.0" || options.host === "::" ? "localhost" : options.host;

  return {
    port,
    url: `http://${shownHost}:${port}`,
    async close() {
      draining = true;
      listener.close();
      // Ask HTTP/2 clients to go away once their streams finish, and close
      // idle HTTP/1 keep-alive connections; in-flight requests are drained.
      for (const session of sessions) session.close();
      h1.closeIdleConnections();
      if (inFlight > 0) {
        await Promise.race([
          new Promise<void>((resolve) => (drained = resolve)),
          new Promise<void>((resolve) => setTimeout(resolve, options.shutdownGraceMs).unref()),
        ]);
      }
      for (const socket of sockets) socket.destroy();
      h1.close();
      h2.close();
    },
  };
}

function sendText(res: http.ServerResponse | http2.Http2ServerResponse, status: number, body: string) {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
  res.end(body);
}

// Request facts the interceptors need, taken before the handler runs.
function requestContext(
  req: http.IncomingMessage | http2.Http2ServerRequest,
  clientAddress: ClientAddressResolver,
  requestOrigin: (peer: string, headers: http.IncomingHttpHeaders) => RequestOrigin,
) {
  const peer = req.socket?.remoteAddress ?? "";
  return createContextValues()
    .set(remoteAddressKey, clientAddress(peer, req.headers["x-forwarded-for"]))
    .set(requestOriginKey, requestOrigin(peer, req.headers));
}
