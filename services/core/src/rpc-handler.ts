import type http from "node:http";
import type http2 from "node:http2";
import { fromBinary, fromJson, type DescMessage } from "@bufbuild/protobuf";
import { Code, createConnectRouter, createContextKey, type ConnectRouter, type ContextValues, type Interceptor } from "@connectrpc/connect";
import { universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import { apiError } from "./errors";

// Connect's Node adapter, plus one thing it lacks: a unary request body that
// does not decode is answered INVALID_ARGUMENT with an ErrorInfo on every
// protocol. (Connect reports binary decode failures as INTERNAL, and before
// any interceptor runs.) The body is decoded here first; when it is bad, the
// handler gets an empty message and a flag that the first interceptor turns
// into the error, so each protocol serializes it natively.

const malformedRequestKey = createContextKey<string | undefined>(undefined, { description: "decode error" });

export const rejectMalformedRequests: Interceptor = (next) => async (req) => {
  const problem = req.contextValues.get(malformedRequestKey);
  if (problem !== undefined) {
    throw apiError(Code.InvalidArgument, "MALFORMED_REQUEST", `request body is not a valid ${req.method.input.typeName}: ${problem}`, {
      message_type: req.method.input.typeName,
    });
  }
  return next(req);
};

export interface RpcHandlerOptions {
  routes: (router: ConnectRouter) => void;
  interceptors: Interceptor[];
  readMaxBytes: number;
  contextValues: (req: http.IncomingMessage | http2.Http2ServerRequest) => ContextValues;
}

export type NodeHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => Promise<boolean>;

// Returns false when no procedure matches, so the caller can answer 404.
export function createRpcHandler(options: RpcHandlerOptions): NodeHandler {
  const router = createConnectRouter({
    interceptors: [rejectMalformedRequests, ...options.interceptors],
    readMaxBytes: options.readMaxBytes,
  });
  options.routes(router);
  const paths = new Map(router.handlers.map((h) => [h.requestPath, h]));
  return async (req, res) => {
    const handler = paths.get((req.url ?? "").split("?", 2)[0] ?? "");
    if (!handler) return false;
    const contextValues = options.contextValues(req);
    const uReq = universalRequestFromNodeRequest(
      req as http.IncomingMessage,
      res as http.ServerResponse,
      undefined,
      contextValues,
    );
    if (handler.method.methodKind === "unary" && req.method === "POST" && uReq.body && isAsyncIterable(uReq.body)) {
      uReq.body = await predecode(handler, req.headers, uReq.body, options.readMaxBytes, contextValues);
    }
    try {
      const uRes = await handler(uReq);
      await universalResponseToNodeResponse(uRes, res as http.ServerResponse);
    } catch {
      // The client went away mid-response; nothing is left to answer.
    }
    return true;
  };
}

function isAsyncIterable(value: unknown): value is AsyncIterable<Uint8Array> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

type Framing = { format: "json" | "binary"; enveloped: boolean };

function framingOf(contentType: string): Framing | undefined {
  const type = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  switch (type) {
    case "application/json":
      return { format: "json", enveloped: false };
    case "application/proto":
      return { format: "binary", enveloped: false };
    case "application/grpc":
    case "application/grpc+proto":
    case "application/grpc-web":
    case "application/grpc-web+proto":
      return { format: "binary", enveloped: true };
    case "application/grpc+json":
    case "application/grpc-web+json":
      return { format: "json", enveloped: true };
    default:
      return undefined;
  }
}

async function predecode(
  handler: UniversalHandler,
  headers: http.IncomingHttpHeaders,
  body: AsyncIterable<Uint8Array>,
  limit: number,
  contextValues: ContextValues,
): Promise<AsyncIterable<Uint8Array>> {
  const framing = framingOf(String(headers["content-type"] ?? ""));
  const compressed = [headers["content-encoding"], headers["grpc-encoding"]].some((v) => v && v !== "identity");
  const iterator = body[Symbol.asyncIterator]();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const next = await iterator.next();
    if (next.done) break;
    chunks.push(next.value);
    total += next.value.byteLength;
    // Oversize bodies are left to Connect, which answers RESOURCE_EXHAUSTED.
    if (total > limit) return replay(chunks, iterator);
  }
  const bytes = Buffer.concat(chunks);
  if (!framing || compressed) return replay([bytes]);
  let payload: Uint8Array = bytes;
  if (framing.enveloped) {
    // A bad envelope (truncated, compressed, several messages) is Connect's to report.
    if (bytes.length < 5 || bytes[0] !== 0 || bytes.readUInt32BE(1) !== bytes.length - 5) return replay([bytes]);
    payload = bytes.subarray(5);
  }
  const problem = decodeProblem(handler.method.input, framing.format, payload);
  if (problem === undefined) return replay([bytes]);
  contextValues.set(malformedRequestKey, problem);
  const empty = framing.format === "json" ? Buffer.from("{}") : Buffer.alloc(0);
  if (!framing.enveloped) return replay([empty]);
  const envelope = Buffer.alloc(5);
  envelope.writeUInt32BE(empty.length, 1);
  return replay([Buffer.concat([envelope, empty])]);
}

function decodeProblem(schema: DescMessage, format: Framing["format"], payload: Uint8Array): string | undefined {
  try {
    if (format === "binary") fromBinary(schema, payload);
    else fromJson(schema, JSON.parse(Buffer.from(payload).toString("utf8")));
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

async function* replay(chunks: Uint8Array[], rest?: AsyncIterator<Uint8Array>): AsyncIterable<Uint8Array> {
  yield* chunks;
  if (!rest) return;
  for (;;) {
    const next = await rest.next();
    if (next.done) return;
    yield next.value;
  }
}
