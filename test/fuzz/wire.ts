import http from "node:http";
import http2 from "node:http2";
import type { DescMethod } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { codeFromString } from "@connectrpc/connect/protocol-connect";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import { trailerParse } from "@connectrpc/connect/protocol-grpc-web";

// Raw HTTP for the fuzz suites: every protocol the port speaks, written by
// hand so a request can be broken anywhere, and every answer read back into
// what a client of that protocol would see.

export const protocols = ["connect-json", "connect-proto", "grpc", "grpc+json", "grpc-web", "grpc-web+json"] as const;
export type Protocol = (typeof protocols)[number];
export type HttpVersion = "h1" | "h2";

export function isJson(protocol: Protocol): boolean {
  return protocol.endsWith("json");
}

// Whether the protocol frames each message in a 5-byte envelope for `method`.
export function isEnveloped(protocol: Protocol, method: DescMethod): boolean {
  return !protocol.startsWith("connect") || method.methodKind !== "unary";
}

export function contentType(protocol: Protocol, method: DescMethod): string {
  const streaming = method.methodKind !== "unary";
  switch (protocol) {
    case "connect-json":
      return streaming ? "application/connect+json" : "application/json";
    case "connect-proto":
      return streaming ? "application/connect+proto" : "application/proto";
    default:
      return `application/${protocol}`;
  }
}

export function envelope(payload: Uint8Array, flags = 0): Buffer {
  const head = Buffer.alloc(5);
  head[0] = flags;
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

export interface RawRequest {
  httpVersion: HttpVersion;
  method?: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  // Send Content-Length (h1: otherwise chunked).
  withLength: boolean;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  trailers: Record<string, string>;
  body: Buffer;
  // The server kept a stream open (a server-streaming call that succeeded).
  open: boolean;
}

// Streaming answers are read this long before the call is cancelled.
const streamWindowMs = 1500;
const requestTimeoutMs = 20_000;

export class Wire {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  private session?: http2.ClientHttp2Session;

  constructor(private readonly baseUrl: string) {}

  async send(req: RawRequest): Promise<RawResponse> {
    if (req.httpVersion === "h2") return this.sendH2(req);
    try {
      return await this.sendH1(req);
    } catch (err) {
      // A kept-alive socket the server closed just as it was reused: Node's
      // documented race, retried once on a fresh socket.
      if ((err as { reusedSocket?: boolean }).reusedSocket) return this.sendH1(req);
      throw err;
    }
  }

  close(): void {
    this.agent.destroy();
    this.session?.close();
  }

  private h2(): http2.ClientHttp2Session {
    if (!this.session || this.session.closed || this.session.destroyed) {
      this.session = http2.connect(this.baseUrl);
      this.session.on("error", () => undefined);
    }
    return this.session;
  }

  private sendH1(req: RawRequest): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ...req.headers };
      if (req.withLength) headers["content-length"] = String(req.body.length);
      const outgoing = http.request(new URL(req.path, this.baseUrl), { method: req.method ?? "POST", headers, agent: this.agent });
      const timer = setTimeout(() => outgoing.destroy(new Error(`no answer within ${requestTimeoutMs} ms`)), requestTimeoutMs);
      outgoing.on("error", (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const raced = outgoing.reusedSocket && (err.code === "ECONNRESET" || err.message === "socket hang up");
        reject(Object.assign(err, { reusedSocket: raced }));
      });
      outgoing.on("response", (res) => {
        const chunks: Buffer[] = [];
        let done = false;
        const finish = (open: boolean) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: flat(res.headers), trailers: flat(res.trailers), body: Buffer.concat(chunks), open });
          if (open) outgoing.destroy();
        };
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => finish(false));
        res.on("error", () => finish(false));
        setTimeout(() => finish(true), streamWindowMs).unref();
      });
      if (req.withLength) outgoing.end(req.body);
      else {
        // Two writes: the body goes chunked, with no length announced.
        const cut = Math.floor(req.body.length / 2);
        outgoing.write(req.body.subarray(0, cut));
        outgoing.end(req.body.subarray(cut));
      }
    });
  }

  private sendH2(req: RawRequest): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const headers: http2.OutgoingHttpHeaders = { ":method": req.method ?? "POST", ":path": req.path, ...req.headers };
      if (req.withLength) headers["content-length"] = String(req.body.length);
      // Node ends GET and DELETE streams at once unless told otherwise.
      const stream = this.h2().request(headers, { endStream: false });
      const chunks: Buffer[] = [];
      let status = 0;
      let responseHeaders: Record<string, string> = {};
      let trailers: Record<string, string> = {};
      let done = false;
      const timer = setTimeout(() => {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        if (!done) reject(new Error(`no answer within ${requestTimeoutMs} ms`));
        done = true;
      }, requestTimeoutMs);
      const finish = (open: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve({ status, headers: responseHeaders, trailers, body: Buffer.concat(chunks), open });
        if (open) stream.close(http2.constants.NGHTTP2_CANCEL);
      };
      stream.on("response", (h) => {
        status = Number(h[":status"]);
        responseHeaders = flat(h);
        setTimeout(() => finish(true), streamWindowMs).unref();
      });
      stream.on("trailers", (t) => (trailers = flat(t)));
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => finish(false));
      stream.on("close", () => {
        if (status === 0 && !done) {
          done = true;
          clearTimeout(timer);
          reject(new Error(`stream closed without an answer (code ${stream.rstCode})`));
        } else finish(false);
      });
      stream.on("error", () => undefined);
      stream.end(req.body);
    });
  }
}

function flat(headers: http.IncomingHttpHeaders | NodeJS.Dict<string | string[]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name.startsWith(":")) continue;
    out[name] = Array.isArray(value) ? value.join(", ") : String(value);
  }
  return out;
}

export interface Outcome {
  httpStatus: number;
  // undefined: success.
  code?: Code;
  errorInfo: boolean;
  reason?: string;
  message?: string;
}

// What a client of the response's protocol would make of it.
export function readOutcome(res: RawResponse): Outcome {
  const type = (res.headers["content-type"] ?? "").toLowerCase();
  if (type.startsWith("application/grpc-web")) {
    const merged = new Headers(res.headers);
    for (const frame of frames(res.body)) {
      if (frame.flags & 0x80) trailerParse(frame.payload).forEach((v, k) => merged.set(k, v));
    }
    return grpcOutcome(res, merged);
  }
  if (type.startsWith("application/grpc")) {
    return grpcOutcome(res, new Headers({ ...res.headers, ...res.trailers }));
  }
  if (type.startsWith("application/connect+")) {
    const end = frames(res.body).find((f) => f.flags & 0x02);
    if (!end) return res.status === 200 ? { httpStatus: res.status, errorInfo: false } : untyped(res.status);
    return connectErrorOutcome(res.status, JSON.parse(Buffer.from(end.payload).toString("utf8")).error);
  }
  if (res.status === 200) return { httpStatus: 200, errorInfo: false };
  let parsed: unknown;
  try {
    parsed = JSON.parse(res.body.toString("utf8"));
  } catch {
    return untyped(res.status);
  }
  return connectErrorOutcome(res.status, parsed);
}

function untyped(httpStatus: number): Outcome {
  return { httpStatus, code: Code.Unknown, errorInfo: false, message: `HTTP ${httpStatus} without an error body` };
}

function connectErrorOutcome(httpStatus: number, error: unknown): Outcome {
  if (error === undefined) return { httpStatus, errorInfo: false };
  const e = error as { code?: string; message?: string; details?: { type?: string; debug?: { reason?: string } }[] };
  const info = e.details?.find((d) => d.type === "google.rpc.ErrorInfo");
  return {
    httpStatus,
    code: (e.code && codeFromString(e.code)) || Code.Unknown,
    errorInfo: info !== undefined,
    reason: info?.debug?.reason,
    message: e.message,
  };
}

function grpcOutcome(res: RawResponse, headers: Headers): Outcome {
  const httpStatus = res.status;
  if (httpStatus !== 200) return untyped(httpStatus);
  if (!headers.has("grpc-status")) {
    // A stream still open has not failed (yet).
    return res.open ? { httpStatus, errorInfo: false } : { httpStatus, code: Code.Unknown, errorInfo: false, message: "no grpc-status" };
  }
  const err = findTrailerError(headers);
  if (!err) return { httpStatus, errorInfo: false };
  const info = err.details.find((d) => "type" in d && d.type === "google.rpc.ErrorInfo");
  return { httpStatus, code: err.code, errorInfo: info !== undefined, reason: reasonOf(info), message: err.rawMessage };
}

// ErrorInfo.reason is field 1; enough to read it without a schema.
function reasonOf(detail: unknown): string | undefined {
  const value = (detail as { value?: Uint8Array } | undefined)?.value;
  if (!value || value[0] !== 0x0a) return undefined;
  return Buffer.from(value.subarray(2, 2 + (value[1] ?? 0))).toString("utf8");
}

function frames(body: Buffer): { flags: number; payload: Uint8Array }[] {
  const out: { flags: number; payload: Uint8Array }[] = [];
  let offset = 0;
  while (offset + 5 <= body.length) {
    const length = body.readUInt32BE(offset + 1);
    out.push({ flags: body[offset]!, payload: body.subarray(offset + 5, offset + 5 + length) });
    offset += 5 + length;
  }
  return out;
}
