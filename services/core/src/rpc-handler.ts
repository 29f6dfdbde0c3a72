import { setMaxListeners } from "node:events";
import type http from "node:http";
import type http2 from "node:http2";
import type net from "node:net";
import type { TLSSocket } from "node:tls";
import { create, toBinary } from "@bufbuild/protobuf";
import { ConnectError, createConnectRouter, createContextKey, type ConnectRouter, type ContextValues, type Interceptor } from "@connectrpc/connect";
import { universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import { errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import type { UniversalHandler, UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { ErrorInfoSchema } from "@onerouter/client/gen/google/rpc/error_details_pb";
import { outgoing } from "./errors";
import { copyWith } from "./objects";
import {
  bodyProblem,
  framingOf,
  headerProblem,
  invalidAuthority,
  likelyFraming,
  methodNotFound,
  requestTooLarge,
  routeNotFound,
  type Framing,
} from "./rpc-request-check";

// Connect's Node adapter, plus what it lacks: every request that Connect
// would refuse before any interceptor runs (bad media type, HTTP method,
// compression, timeout, size, envelope, body) is answered with a typed error
// (ErrorInfo) in the caller's own protocol. The request is checked here
// first; when it is bad, Connect gets a clean empty request instead and a
// flag that the first interceptor turns into the error, so each protocol
// serializes it natively (Connect JSON, gRPC trailers, gRPC-Web trailer frame).

const rejectedRequestKey = createContextKey<ConnectError | undefined>(undefined, { description: "rejected request" });

export const rejectBadRequests: Interceptor = (next) => async (req) => {
  const problem = req.contextValues.get(rejectedRequestKey);
  if (problem !== undefined) throw bounded(problem);
  try {
    return await next(req);
  } catch (err) {
    throw err instanceof ConnectError ? bounded(err) : err;
  }
};

// Error messages and ErrorInfo metadata echo what the caller sent (ids,
// values); clipped, so that an answer's headers (gRPC trailers) stay within
// what clients accept: grpc-js and Node refuse more than 16 KiB. Messages
// are made well-formed UTF-16 too, U+FFFD for each lone surrogate (one a
// request's JSON may carry and a message echo, or half of a pair that
// clipping cut): gRPC's grpc-message is percent-encoded from UTF-8, which has
// no encoding for one, and Connect's encoding threw, leaving the call with no
// answer at all.
const maxMessageChars = 1000;
const maxMetadataChars = 200;

function bounded(err: ConnectError): ConnectError {
  const long = (text: string, max: number) => text.length > max;
  const info = err.details.find((d) => "desc" in d && d.desc.typeName === ErrorInfoSchema.typeName) as
    | { desc: typeof ErrorInfoSchema; value: { metadata?: Record<string, string> } }
    | undefined;
  const metadata = info?.value.metadata ?? {};
  const message = clip(err.rawMessage, maxMessageChars).toWellFormed();
  if (message === err.rawMessage && !Object.values(metadata).some((v) => long(v, maxMetadataChars))) return err;
  const details = outgoing(err.details).map((d) =>
    d === info ? { desc: ErrorInfoSchema, value: { ...info.value, metadata: Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, clip(v, maxMetadataChars)])) } } : d,
  );
  return new ConnectError(message, err.code, err.metadata, details, err.cause);
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

export interface RpcHandlerOptions {
  routes: (router: ConnectRouter) => void;
  interceptors: Interceptor[];
  readMaxBytes: number;
  contextValues: (req: http.IncomingMessage | http2.Http2ServerRequest) => ContextValues;
}

export type NodeHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => Promise<void>;

// Answers every request it is given: an unknown path is UNIMPLEMENTED in
// gRPC and gRPC-Web, and a Connect 404 otherwise.
export function createRpcHandler(options: RpcHandlerOptions): NodeHandler {
  const router = createConnectRouter({
    interceptors: [rejectBadRequests, ...options.interceptors],
    readMaxBytes: options.readMaxBytes,
  });
  options.routes(router);
  const paths = new Map(router.handlers.map((h) => [h.requestPath, h]));
  // Any unary handler can carry an error for a path that has none.
  const carrier = router.handlers.find((h) => h.method.methodKind === "unary");
  return async (req, res) => {
    const path = (req.url ?? "").split("?", 2)[0] ?? "";
    const contentType = String(req.headers["content-type"] ?? "");
    const found = paths.get(path);
    const handler = found ?? carrier;
    if (!handler || (!found && !contentType.toLowerCase().startsWith("application/grpc"))) {
      if ((await readBody(req as AsyncIterable<Uint8Array>, options.readMaxBytes)) === "aborted") return;
      return writeConnectError(res, 404, path.split("/").length === 3 ? methodNotFound(path) : routeNotFound(path));
    }
    // Connect builds the request's URL from its authority, and a URL that does
    // not parse threw before any answer: such a request is refused, its URL
    // built on a stand-in so that the refusal is in the caller's protocol.
    // HTTP/1.0 may omit Host.
    const badAuthority = authorityProblem(req);
    if (badAuthority) req.headers["stream" in req ? ":authority" : "host"] = "localhost";
    else req.headers.host ??= "localhost";
    const contextValues = options.contextValues(req);
    const uReq = "stream" in req ? http2Request(req, res as http2.Http2ServerResponse, contextValues) : http1Request(req, contextValues);
    const problem = badAuthority
      ? await afterBody(uReq, options.readMaxBytes, badAuthority)
      : found
        ? await checkRequest(found, uReq, options.readMaxBytes)
        : await afterBody(uReq, options.readMaxBytes, methodNotFound(path));
    if (problem === "aborted") return;
    if (problem) {
      contextValues.set(rejectedRequestKey, problem);
      substituteEmptyRequest(uReq, handler, likelyFraming(contentType, handler.method));
    }
    try {
      const uRes = await handler(uReq);
      await universalResponseToNodeResponse(withReadableGrpcMessage(uRes), res as http.ServerResponse);
    } catch {
      // The client went away mid-response; nothing is left to answer.
    }
  };
}

// The problem with the authority a request names (Host, or HTTP/2's
// :authority, which Node falls back to Host for), if any: one the URL parser
// refuses, or reads as more than a host and port.
function authorityProblem(req: http.IncomingMessage | http2.Http2ServerRequest): ConnectError | undefined {
  const h2 = "stream" in req;
  const header = h2 && req.headers[":authority"] !== undefined ? ":authority" : "host";
  const authority = h2 ? req.authority : req.headers.host;
  if (authority === undefined || isAuthority(authority)) return undefined;
  return invalidAuthority(header, authority);
}

// Authorities checked, by their text: callers name few hosts and checking one
// parses a URL. Bounded, since any caller can send any Host.
const checkedAuthorities = new Map<string, boolean>();
const maxCheckedAuthorities = 1000;

function isAuthority(authority: string): boolean {
  let valid = checkedAuthorities.get(authority);
  if (valid === undefined) {
    valid = parsesAsAuthority(authority);
    if (checkedAuthorities.size >= maxCheckedAuthorities) checkedAuthorities.clear();
    checkedAuthorities.set(authority, valid);
  }
  return valid;
}

function parsesAsAuthority(authority: string): boolean {
  try {
    const url = new URL(`http://${authority}/`);
    return url.username === "" && url.password === "" && url.pathname === "/" && url.search === "" && url.hash === "";
  } catch {
    return false;
  }
}

// An HTTP/1.1 request as Connect's universal request. Connect's Node adapter
// makes the same, less three costs of every call:
// - its URL: the adapter resolves the path against a base URL it parses and
//   serializes the result, which Connect parses once more. Here it is written
//   out (the authority was checked, and the path is where the call was
//   routed; any other target gets a placeholder path).
// - its AbortSignal: here the connection's. Over HTTP/1.1 a client goes away
//   by closing the connection, and Connect takes its listener off the signal
//   once a call ends; on Node 20 each AbortSignal gets hidden classes of its
//   own, and an abort without a reason builds a DOMException, stack and all.
// - its body: here the request stream itself, not the adapter's reader of
//   it, a generator function made anew for every request, which on Node 20
//   gets a hidden class of its own each time and keeps the request it reads
//   through young-generation collections (see copyWith).
function http1Request(req: http.IncomingMessage, contextValues: ContextValues): UniversalServerRequest {
  const scheme = (req.socket as TLSSocket).encrypted ? "https" : "http";
  const target = req.url?.startsWith("/") ? req.url : "/";
  return {
    httpVersion: req.httpVersion,
    method: req.method ?? "",
    url: `${scheme}://${req.headers.host ?? "localhost"}${target}`,
    header: webHeaders(req.headers),
    body: req as AsyncIterable<Uint8Array>,
    signal: connectionSignal(req.socket),
    contextValues,
  };
}

// Over HTTP/2 Connect's adapter aborts a call's signal as its stream closes,
// with the stream's reset code; only its body reader is left out, as above.
function http2Request(req: http2.Http2ServerRequest, res: http2.Http2ServerResponse, contextValues: ContextValues): UniversalServerRequest {
  const uReq = universalRequestFromNodeRequest(req, res, null, contextValues);
  uReq.body = req as AsyncIterable<Uint8Array>;
  return uReq;
}

// Aborted when the connection closes. Calls pipelined on one connection
// each listen to it, so it takes any number of listeners without a warning.
const connectionSignals = new WeakMap<net.Socket, AbortSignal>();

function connectionSignal(socket: net.Socket): AbortSignal {
  let signal = connectionSignals.get(socket);
  if (!signal) {
    const closed = new AbortController();
    signal = closed.signal;
    setMaxListeners(0, signal);
    if (socket.destroyed) closed.abort();
    else socket.once("close", () => closed.abort());
    connectionSignals.set(socket, signal);
  }
  return signal;
}

// An HTTP/1.1 request's headers as the Fetch API's Headers, as Connect's
// adapter makes them (its helper is not exported).
function webHeaders(nodeHeaders: http.IncomingHttpHeaders): Headers {
  const header = new Headers();
  for (const name in nodeHeaders) {
    const value = nodeHeaders[name];
    if (value === undefined) continue;
    if (typeof value === "string") header.append(name, value);
    else for (const each of value) header.append(name, each);
  }
  return header;
}

// The problem with a request, "aborted" when the client went away while it
// was read, or undefined when it is fine; then its body is in place again
// for Connect to read.
async function checkRequest(handler: UniversalHandler, uReq: UniversalServerRequest, limit: number): Promise<ConnectError | "aborted" | undefined> {
  const method = handler.method;
  const framing = framingOf(uReq.header.get("content-type") ?? "", method);
  const streamsIn = method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming";
  const problem = headerProblem(uReq.method, uReq.header, framing, method);
  if (problem) return streamsIn ? problem : afterBody(uReq, limit, problem);
  if (!framing) return undefined;
  // Client and bidi streams are read message by message as the handler asks.
  if (streamsIn) return undefined;
  const declared = uReq.header.get("content-length");
  if (declared !== null && Number(declared) > limit) return requestTooLarge(limit);
  const body = await readBody(uReq.body, limit);
  if (body === "aborted") return body;
  if (body === undefined) return requestTooLarge(limit);
  const bad = bodyProblem(body, declared, framing, method);
  if (bad) return bad;
  uReq.header.delete("content-length");
  uReq.body = once(body);
  return undefined;
}

// Reads what was sent before answering `problem`, so an HTTP/1.1 client
// still writing its body sees the answer rather than a closed connection.
async function afterBody(uReq: UniversalServerRequest, limit: number, problem: ConnectError): Promise<ConnectError | "aborted"> {
  return (await readBody(uReq.body, limit)) === "aborted" ? "aborted" : problem;
}

// The whole body, undefined past `limit` bytes.
async function readBody(body: UniversalServerRequest["body"], limit: number): Promise<Uint8Array | undefined | "aborted"> {
  if (!isAsyncIterable(body)) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for await (const chunk of body) {
      total += chunk.byteLength;
      if (total > limit) return undefined;
      chunks.push(chunk);
    }
  } catch {
    return "aborted";
  }
  return Buffer.concat(chunks);
}

// An empty, valid request in the protocol the caller (most likely) speaks,
// so Connect gets as far as the interceptor that raises the real problem.
function substituteEmptyRequest(uReq: UniversalServerRequest, handler: UniversalHandler, framing: Framing): void {
  const empty = framing.format === "json" ? Buffer.from("{}") : Buffer.from(toBinary(handler.method.input, create(handler.method.input)));
  let body: Uint8Array = empty;
  if (framing.enveloped) {
    const envelope = Buffer.alloc(5 + empty.length);
    envelope.writeUInt32BE(empty.length, 1);
    empty.copy(envelope, 5);
    body = envelope;
  }
  uReq.method = "POST";
  uReq.url = new URL(handler.requestPath, uReq.url).toString();
  for (const name of ["content-length", "content-encoding", "connect-content-encoding", "grpc-encoding", "connect-timeout-ms", "grpc-timeout"]) {
    uReq.header.delete(name);
  }
  uReq.header.set("content-type", framing.contentType);
  uReq.body = once(body);
}

// grpc-message is percent-encoded; Connect encodes every reserved character
// too (":" as %3A), which grpc-js does not decode. The gRPC spec encodes only
// what is not printable ASCII, and "%", which every client decodes.
function withReadableGrpcMessage(uRes: UniversalServerResponse): UniversalServerResponse {
  const body = uRes.body;
  if (!isAsyncIterable(body) || !(uRes.header?.get("content-type") ?? "").startsWith("application/grpc")) return uRes;
  return copyWith(uRes, { body: withGrpcMessagesRespecced(body, uRes) });
}

// `body` as it is, with the response's grpc-message respecced as each chunk
// and the end go out. Declared once rather than per response, for the
// reason copyWith gives.
async function* withGrpcMessagesRespecced(body: AsyncIterable<Uint8Array>, uRes: UniversalServerResponse): AsyncIterable<Uint8Array> {
  for await (const chunk of body) {
    respecGrpcMessage(uRes.header);
    yield chunk;
  }
  respecGrpcMessage(uRes.header);
  respecGrpcMessage(uRes.trailer);
}

function respecGrpcMessage(headers: Headers | undefined): void {
  const value = headers?.get("grpc-message");
  if (!headers || value === null || value === undefined) return;
  let message: string;
  try {
    message = decodeURIComponent(value);
  } catch {
    return;
  }
  headers.set("grpc-message", encodeGrpcMessage(message));
}

function encodeGrpcMessage(message: string): string {
  let out = "";
  for (const byte of Buffer.from(message, "utf8")) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

// A Connect error body with the given HTTP status, for answers given before
// any handler is chosen.
function writeConnectError(res: http.ServerResponse | http2.Http2ServerResponse, status: number, error: ConnectError): void {
  const body = errorToJsonBytes(error, {});
  res.writeHead(status, { "content-type": "application/json", "content-length": String(body.byteLength) });
  res.end(body);
}

function isAsyncIterable(value: unknown): value is AsyncIterable<Uint8Array> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}
