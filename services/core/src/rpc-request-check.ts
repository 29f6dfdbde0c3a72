import { fromBinary, fromJson, fromJsonString, type DescMessage, type JsonValue } from "@bufbuild/protobuf";
import { Code, type ConnectError } from "@connectrpc/connect";
import {
  parseContentType as parseConnectContentType,
  parseTimeout as parseConnectTimeout,
} from "@connectrpc/connect/protocol-connect";
import { parseContentType as parseGrpcContentType, parseTimeout as parseGrpcTimeout } from "@connectrpc/connect/protocol-grpc";
import { parseContentType as parseGrpcWebContentType } from "@connectrpc/connect/protocol-grpc-web";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import { apiError } from "./errors";
import { rejectNulCharacters } from "./validation";

// Everything Connect checks about a request before any interceptor runs
// (protocol, HTTP method, media type, compression, timeout, size, envelope,
// decoding), checked here first so that each problem is answered with a typed
// error (ErrorInfo) in the caller's protocol instead of Connect's bare one.

export type Protocol = "connect" | "grpc" | "grpc-web";

// How a request's body is framed, and the media type that stands for it.
export interface Framing {
  protocol: Protocol;
  format: "json" | "binary";
  enveloped: boolean;
  contentType: string;
}

type Method = UniversalHandler["method"];

// The protocol a request speaks, from its media type; undefined when the type
// is none that this server speaks.
export function framingOf(contentType: string, method: Method): Framing | undefined {
  const streaming = method.methodKind !== "unary";
  const web = parseGrpcWebContentType(contentType);
  if (web && !web.text) return framing("grpc-web", web.binary, true);
  const grpc = parseGrpcContentType(contentType);
  if (grpc) return framing("grpc", grpc.binary, true);
  const connect = parseConnectContentType(contentType);
  if (connect && connect.stream === streaming) return framing("connect", connect.binary, streaming);
  return undefined;
}

// The protocol a caller most likely meant, to answer it in kind when its
// media type is not one this server speaks.
export function likelyFraming(contentType: string, method: Method): Framing {
  const type = contentType.toLowerCase();
  if (type.startsWith("application/grpc-web")) return framing("grpc-web", true, true);
  if (type.startsWith("application/grpc")) return framing("grpc", true, true);
  return framing("connect", false, method.methodKind !== "unary");
}

function framing(protocol: Protocol, binary: boolean, enveloped: boolean): Framing {
  const format = binary ? "binary" : "json";
  const contentType =
    protocol === "connect"
      ? `application/${enveloped ? "connect+" : ""}${binary ? "proto" : "json"}`
      : `application/${protocol}${binary ? "" : "+json"}`;
  return { protocol, format, enveloped, contentType };
}

export function malformed(method: Method, problem: string, field?: string): ConnectError {
  const metadata: Record<string, string> = { message_type: method.input.typeName };
  if (field) metadata.field = field;
  return apiError(
    Code.InvalidArgument,
    "MALFORMED_REQUEST",
    `request body is not a valid ${method.input.typeName}${field ? ` (at ${field})` : ""}: ${problem}`,
    metadata,
  );
}

export function unsupportedMediaType(contentType: string): ConnectError {
  return apiError(
    Code.InvalidArgument,
    "UNSUPPORTED_MEDIA_TYPE",
    `content-type "${contentType}" is not supported: use application/json or application/proto (Connect), application/grpc, or application/grpc-web`,
    { content_type: contentType },
  );
}

export function requestTooLarge(limitBytes: number): ConnectError {
  return apiError(Code.ResourceExhausted, "REQUEST_TOO_LARGE", `the request body exceeds ${limitBytes} bytes`, {
    limit_bytes: String(limitBytes),
  });
}

export function methodNotFound(path: string): ConnectError {
  return apiError(Code.Unimplemented, "METHOD_NOT_FOUND", `no method ${path} on this server`, { method: path });
}

export function routeNotFound(path: string): ConnectError {
  return apiError(Code.NotFound, "ROUTE_NOT_FOUND", `no route ${path.slice(0, 200)}`, { path: path.slice(0, 200) });
}

// A Host (or HTTP/2 :authority) that no URL can hold: not a host with an
// optional port, or one with a path, user or query about it.
export function invalidAuthority(header: string, value: string): ConnectError {
  return apiError(Code.InvalidArgument, "INVALID_HOST", `${header} "${value}" is not a host with an optional port`, { header, value });
}

// The problem with a request's HTTP method and headers, if any. Every call is
// a POST: Connect's GET, which it offers for methods declared
// NO_SIDE_EFFECTS, is not served, so reads and writes pass the same checks.
export function headerProblem(
  httpMethod: string,
  header: Headers,
  framing: Framing | undefined,
  method: Method,
): ConnectError | undefined {
  if (httpMethod !== "POST") {
    return apiError(Code.InvalidArgument, "HTTP_METHOD_NOT_ALLOWED", `${method.parent.typeName}/${method.name} is called with POST, not ${httpMethod}`, {
      http_method: httpMethod,
      allowed: "POST",
    });
  }
  const contentType = header.get("content-type") ?? "";
  if (!framing) return unsupportedMediaType(contentType);
  const protocol = framing.protocol;
  const encodingHeader = protocol !== "connect" ? "grpc-encoding" : framing.enveloped ? "connect-content-encoding" : "content-encoding";
  const encoding = header.get(encodingHeader);
  if (encoding !== null && encoding.trim().toLowerCase() !== "identity") {
    return apiError(Code.InvalidArgument, "UNSUPPORTED_COMPRESSION", `${encodingHeader} "${encoding}" is not supported: send the body uncompressed`, {
      header: encodingHeader,
      encoding,
      supported: "identity",
    });
  }
  const timeoutHeader = protocol === "connect" ? "connect-timeout-ms" : "grpc-timeout";
  const timeout = header.get(timeoutHeader);
  if (timeout !== null) {
    const parsed = protocol === "connect" ? parseConnectTimeout(timeout, Number.MAX_SAFE_INTEGER) : parseGrpcTimeout(timeout, Number.MAX_SAFE_INTEGER);
    if (parsed.error) {
      return apiError(Code.InvalidArgument, "INVALID_TIMEOUT", `${timeoutHeader} "${timeout}" is not a valid timeout`, {
        header: timeoutHeader,
        value: timeout,
      });
    }
  }
  return undefined;
}

// The problem with a complete body, if any: its envelope, its decoding,
// and NUL characters in its strings.
export function bodyProblem(body: Uint8Array, declaredLength: string | null, framing: Framing, method: Method): ConnectError | undefined {
  if (declaredLength !== null && Number(declaredLength) !== body.byteLength) {
    return malformed(method, `the body is ${body.byteLength} bytes, Content-Length says ${declaredLength}`);
  }
  let payload = body;
  if (framing.enveloped) {
    const unwrapped = singleEnvelope(body);
    if (typeof unwrapped === "string") return malformed(method, unwrapped);
    payload = unwrapped;
  }
  return decodeProblem(method, framing.format, payload);
}

// The one message of an enveloped body (unary and server-streaming calls
// send exactly one), or what is wrong with the envelope.
function singleEnvelope(body: Uint8Array): Uint8Array | string {
  if (body.byteLength === 0) return "no message was sent";
  if (body.byteLength < 5) return `the ${body.byteLength}-byte body is shorter than a message envelope`;
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const flags = view.getUint8(0);
  const length = view.getUint32(1);
  if (flags & 1) return "the message is flagged compressed, but no compression was declared";
  if (flags !== 0) return `the message envelope has unknown flags 0x${flags.toString(16)}`;
  if (body.byteLength < 5 + length) return `the envelope announces ${length} bytes, ${body.byteLength - 5} follow`;
  if (body.byteLength > 5 + length) return "only one request message is expected";
  return body.subarray(5);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function decodeProblem(method: Method, format: Framing["format"], payload: Uint8Array): ConnectError | undefined {
  const schema = method.input;
  let message;
  if (format === "binary") {
    try {
      message = fromBinary(schema, payload);
    } catch (err) {
      return malformed(method, messageOf(err));
    }
  } else {
    let text: string;
    let json: JsonValue;
    try {
      text = strictUtf8.decode(payload);
      json = JSON.parse(text) as JsonValue;
    } catch (err) {
      return malformed(method, err instanceof TypeError ? "the body is not valid UTF-8" : `the body is not JSON: ${messageOf(err)}`);
    }
    try {
      // As Connect decodes it, which also refuses duplicate keys.
      message = fromJsonString(schema, text);
    } catch (err) {
      return malformed(method, messageOf(err), jsonFieldPath(schema, json));
    }
  }
  try {
    rejectNulCharacters(schema, message);
  } catch (err) {
    return err as ConnectError;
  }
  return undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// The path of the first field whose JSON does not decode (proto field names,
// list indexes), found by decoding field by field; undefined when the
// message as a whole is the problem.
function jsonFieldPath(schema: DescMessage, json: JsonValue, prefix = ""): string | undefined {
  if (json === null || typeof json !== "object" || Array.isArray(json)) return prefix || undefined;
  for (const [key, value] of Object.entries(json)) {
    const field = schema.fields.find((f) => f.jsonName === key || f.name === key);
    const path = `${prefix}${prefix ? "." : ""}${field?.name ?? key}`;
    if (!field) return path;
    if (decodes(schema, { [key]: value })) continue;
    const nested = field.fieldKind === "message" || (field.fieldKind === "list" && field.listKind === "message") ? field.message : undefined;
    if (nested && !nested.typeName.startsWith("google.protobuf.")) {
      if (field.fieldKind === "list" && Array.isArray(value)) {
        const index = value.findIndex((item) => !decodes(nested, item));
        return index < 0 ? path : (jsonFieldPath(nested, value[index]!, `${path}[${index}]`) ?? `${path}[${index}]`);
      }
      return jsonFieldPath(nested, value, path) ?? path;
    }
    return path;
  }
  return prefix || undefined;
}

function decodes(schema: DescMessage, json: JsonValue): boolean {
  try {
    fromJson(schema, json);
    return true;
  } catch {
    return false;
  }
}
