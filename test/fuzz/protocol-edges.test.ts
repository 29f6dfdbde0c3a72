import { create, toBinary, type DescMethod } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { HealthCheckRequestSchema } from "@onerouter/client/gen/health/v1/health_pb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fuzzSeed, Rng } from "./corpus";
import { allMethods, methodPath } from "./methods";
import { protocolHeaders } from "./rpc";
import { runAll, Tally } from "./tally";
import { fuzzMaxRequestBytes, startFuzzTarget, type FuzzTarget } from "./target";
import { envelope, isEnveloped, isJson, protocols, readOutcome, type HttpVersion, type Protocol, type RawRequest } from "./wire";

// The protocol around the message, broken for every RPC: media types, HTTP
// methods, compression, timeouts, oversize bodies, unknown methods and
// health checks of unknown services. Each answer must be the documented
// code and reason, in the caller's protocol.

const perMethod = 22;

type Expectation = { code: Code; reason?: string };

const invalid = (reason: string): Expectation => ({ code: Code.InvalidArgument, reason });

interface EdgeCase {
  name: string;
  build(method: DescMethod, protocol: Protocol, rng: Rng): { request: Omit<RawRequest, "httpVersion">; expected: Expectation };
}

function emptyBody(method: DescMethod, protocol: Protocol): Buffer {
  const payload = isJson(protocol) ? Buffer.from("{}") : Buffer.from(toBinary(method.input, create(method.input)));
  return isEnveloped(protocol, method) ? envelope(payload) : payload;
}

function base(method: DescMethod, protocol: Protocol, apiKey: string): Omit<RawRequest, "httpVersion"> {
  return { path: methodPath(method), headers: protocolHeaders(protocol, method, apiKey), body: emptyBody(method, protocol), withLength: true };
}

function edgeCases(apiKey: string): EdgeCase[] {
  return [
    {
      name: "unsupported media type",
      build(method, protocol, rng) {
        const request = base(method, protocol, apiKey);
        const type = rng.pick(["text/plain", "application/xml", "multipart/form-data", "", "application/grpc-web-text", "application/json; charset=latin1"]);
        if (type === "") delete request.headers["content-type"];
        else request.headers["content-type"] = type;
        return { request, expected: invalid("UNSUPPORTED_MEDIA_TYPE") };
      },
    },
    {
      name: "wrong HTTP method",
      build(method, protocol, rng) {
        return { request: { ...base(method, protocol, apiKey), method: rng.pick(["GET", "PUT", "DELETE", "PATCH"]), body: Buffer.alloc(0) }, expected: invalid("HTTP_METHOD_NOT_ALLOWED") };
      },
    },
    {
      name: "unknown compression",
      build(method, protocol, rng) {
        const request = base(method, protocol, apiKey);
        const header = protocol.startsWith("grpc") ? "grpc-encoding" : isEnveloped(protocol, method) ? "connect-content-encoding" : "content-encoding";
        request.headers[header] = rng.pick(["gzip", "br", "snappy", "zstd", "x"]);
        return { request, expected: invalid("UNSUPPORTED_COMPRESSION") };
      },
    },
    {
      name: "bad timeout",
      build(method, protocol, rng) {
        const request = base(method, protocol, apiKey);
        if (protocol.startsWith("grpc")) request.headers["grpc-timeout"] = rng.pick(["abc", "1x", "123456789S", "-1S", "S", "1.5S"]);
        else request.headers["connect-timeout-ms"] = rng.pick(["abc", "-1", "12345678901", "1.5", "1e3"]);
        return { request, expected: invalid("INVALID_TIMEOUT") };
      },
    },
    {
      name: "oversize body",
      build(method, protocol, rng) {
        const request = base(method, protocol, apiKey);
        const filler = isJson(protocol)
          ? Buffer.from(JSON.stringify({ x: "y".repeat(fuzzMaxRequestBytes + rng.int(1000)) }))
          : Buffer.concat([Buffer.from([0xfa, 0xff, 0x07]), Buffer.alloc(fuzzMaxRequestBytes + 10 + rng.int(1000), 0x61)]);
        const body = isEnveloped(protocol, method) ? envelope(filler) : filler;
        return { request: { ...request, body, withLength: rng.chance(0.5) }, expected: { code: Code.ResourceExhausted, reason: "REQUEST_TOO_LARGE" } };
      },
    },
    {
      name: "envelope announcing a huge message",
      build(method, protocol, rng) {
        const request = base(method, protocol, apiKey);
        if (!isEnveloped(protocol, method)) return { request: { ...request, body: Buffer.from(isJson(protocol) ? "{" : [0x0f]) }, expected: invalid("MALFORMED_REQUEST") };
        const body = Buffer.from([0, 0xff, 0xff, 0xff, 0xf0, 1, 2, 3]);
        return { request: { ...request, body, withLength: rng.chance(0.5) }, expected: invalid("MALFORMED_REQUEST") };
      },
    },
    {
      name: "unknown method",
      build(method, protocol, rng) {
        const request = base(method, protocol, apiKey);
        request.path = rng.pick([`/${method.parent.typeName}/No${method.name}`, "/no.such.v1.Service/Method", `/${method.parent.typeName}/`]);
        return { request, expected: { code: Code.Unimplemented, reason: "METHOD_NOT_FOUND" } };
      },
    },
  ];
}

describe("fuzz: the protocol around the message", () => {
  let target: FuzzTarget;
  beforeAll(async () => {
    target = await startFuzzTarget();
  });
  afterAll(async () => target?.close());

  it("answers every protocol-level mistake with its documented typed error", async () => {
    const { apiKey, wire } = target;
    const startedAt = Date.now();
    const seed = fuzzSeed();
    const rng = new Rng(seed);
    const tally = new Tally(seed);
    const methods = await allMethods();
    const cases = edgeCases(apiKey);
    const tasks: (() => Promise<void>)[] = [];
    const send = (label: string, request: RawRequest, expected: Expectation) =>
      tasks.push(async () => tally.add(label, await wire.send(request).then(readOutcome, (err: Error) => err), expected));
    for (const method of methods) {
      for (let i = 0; i < perMethod; i++) {
        const edge = cases[i % cases.length]!;
        const protocol = protocols[(i + methods.indexOf(method)) % protocols.length]!;
        const httpVersion: HttpVersion = protocol.startsWith("grpc") && !protocol.startsWith("grpc-web") ? rng.pick(["h2", "h2", "h1"]) : rng.pick(["h1", "h2"]);
        const { request, expected } = edge.build(method, protocol, rng);
        send(`${methodPath(method)} ${protocol}/${httpVersion} ${edge.name}`, { ...request, httpVersion }, expected);
      }
    }
    // grpc.health.v1: the server, each service, and services it does not have.
    const services = [...new Set(methods.map((m) => m.parent.typeName))];
    const check = methods.find((m) => m.parent.typeName === "grpc.health.v1.Health" && m.name === "Check")!;
    for (const protocol of protocols) {
      for (const service of ["", ...services, "no.such.v1.Service", "onerouter.payments.v1.PaymentServic", "\u0000"]) {
        const json = JSON.stringify({ service });
        const payload = isJson(protocol) ? Buffer.from(json) : Buffer.from(toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service })));
        const request: RawRequest = {
          httpVersion: protocol.startsWith("grpc-web") ? "h1" : "h2",
          path: methodPath(check),
          headers: protocolHeaders(protocol, check, apiKey),
          body: isEnveloped(protocol, check) ? envelope(payload) : payload,
          withLength: true,
        };
        const known = service === "" || services.includes(service);
        const expected = service === "\u0000" ? { code: Code.InvalidArgument, reason: "INVALID_FIELD" } : { code: Code.NotFound, reason: "SERVICE_NOT_FOUND" };
        tasks.push(async () => {
          const outcome = await wire.send(request).then(readOutcome, (err: Error) => err);
          tally.add(`health Check "${service}" ${protocol}`, outcome, known ? undefined : expected);
        });
      }
    }
    await runAll(tasks, 32);
    tally.record(
      "fuzz-protocol-edges",
      "test/fuzz/protocol-edges.test.ts",
      startedAt,
      tally.rows(`media types, HTTP methods, compression, timeouts, oversize bodies, unknown methods and health checks over ${methods.length} RPCs`, { classified: true }),
    );
    const report = `seed ${seed}:\n${tally.samples.join("\n")}`;
    expect({ unanswered: tally.unanswered, http5xx: tally.http5xx, internal: tally.internal, untyped: tally.errors - tally.typedErrors, other: tally.misclassified }, report).toEqual({
      unanswered: 0,
      http5xx: 0,
      internal: 0,
      untyped: 0,
      other: 0,
    });
  }, 120_000);
});
