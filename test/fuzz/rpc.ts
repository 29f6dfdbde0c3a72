import { randomUUID } from "node:crypto";
import type { DescMethod, JsonValue } from "@bufbuild/protobuf";
import { binaryWithTimesBeyondJson, byteMutations, jsonMutations, mutateBinary, mutateJson, sampleJson, validBinary, type Rng } from "./corpus";
import { methodPath } from "./methods";
import { Tally } from "./tally";
import { contentType, envelope, isEnveloped, isJson, readOutcome, type HttpVersion, type Protocol, type RawRequest, type Wire } from "./wire";

// One fuzz case per call: a generated message for `method`, sent over
// `protocol`, either as generated (valid or wrong in its values) or broken
// at the byte, envelope or header level.

export function protocolHeaders(protocol: Protocol, method: DescMethod, apiKey: string): Record<string, string> {
  const headers: Record<string, string> = {
    "content-type": contentType(protocol, method),
    authorization: `Bearer ${apiKey}`,
    "idempotency-key": randomUUID(),
  };
  if (protocol.startsWith("grpc") && !protocol.startsWith("grpc-web")) headers.te = "trailers";
  if (protocol.startsWith("grpc-web")) headers["x-grpc-web"] = "1";
  return headers;
}

const envelopeMutations = ["short-length", "long-length", "compressed-flag", "odd-flags", "two-messages", "no-envelope", "empty"] as const;

function mutateEnvelope(payload: Buffer, rng: Rng): { body: Buffer; how: string } {
  const how = rng.pick(envelopeMutations);
  const framed = envelope(payload);
  switch (how) {
    case "short-length":
      framed.writeUInt32BE(Math.max(0, payload.length - 1 - rng.int(3)), 1);
      return { body: framed, how };
    case "long-length":
      framed.writeUInt32BE(payload.length + 1 + rng.int(1 << 20), 1);
      return { body: framed, how };
    case "compressed-flag":
      framed[0] = 1;
      return { body: framed, how };
    case "odd-flags":
      framed[0] = rng.pick([2, 0x80, 0x7f, 0xff]);
      return { body: framed, how };
    case "two-messages":
      return { body: Buffer.concat([framed, framed]), how };
    case "no-envelope":
      return { body: payload, how };
    case "empty":
      return { body: Buffer.alloc(0), how };
  }
}

export interface RpcCase {
  protocol: Protocol;
  httpVersion: HttpVersion;
  json: JsonValue;
  // "as-generated", or which mutation.
  how: string;
  request: RawRequest;
}

export function buildCase(method: DescMethod, protocol: Protocol, httpVersion: HttpVersion, json: JsonValue, apiKey: string, rng: Rng): RpcCase {
  const headers = protocolHeaders(protocol, method, apiKey);
  let payload: Buffer;
  let how = "as-generated";
  if (isJson(protocol)) {
    const text = JSON.stringify(json);
    if (rng.chance(0.5)) {
      const mutation = rng.pick(jsonMutations);
      payload = mutateJson(text, mutation, rng);
      how = `json:${mutation}`;
    } else payload = Buffer.from(text);
  } else {
    const bytes = validBinary(method.input, json);
    if (rng.chance(0.5)) {
      const mutation = rng.pick(byteMutations);
      payload = mutateBinary(bytes, mutation, rng);
      how = `binary:${mutation}`;
    } else if (rng.chance(0.3)) {
      payload = Buffer.from(binaryWithTimesBeyondJson(method.input, json, rng));
      how = "binary:times-beyond-json";
    } else payload = Buffer.from(bytes);
  }
  let body = payload;
  if (isEnveloped(protocol, method)) {
    if (rng.chance(0.25)) {
      const broken = mutateEnvelope(payload, rng);
      body = broken.body;
      how += `+envelope:${broken.how}`;
    } else body = envelope(payload);
  }
  const withLength = rng.chance(0.5);
  return { protocol, httpVersion, json, how, request: { httpVersion, path: methodPath(method), headers, body, withLength } };
}

// Sends `perMethod` cases for every method, spread over `protocols` and
// `httpVersions`, and tallies what came back.
export function rpcFuzzTasks(options: {
  wire: Wire;
  methods: DescMethod[];
  protocols: readonly Protocol[];
  httpVersions: readonly HttpVersion[];
  perMethod: number;
  apiKey: string;
  rng: Rng;
  tally: Tally;
}): (() => Promise<void>)[] {
  const { wire, rng, tally } = options;
  const tasks: (() => Promise<void>)[] = [];
  for (const method of options.methods) {
    const samples = sampleJson(method.input, options.perMethod, tally.seed);
    samples.forEach((json, i) => {
      const protocol = options.protocols[i % options.protocols.length]!;
      const httpVersion = options.httpVersions[Math.floor(i / options.protocols.length) % options.httpVersions.length]!;
      const c = buildCase(method, protocol, httpVersion, json, options.apiKey, rng);
      tasks.push(async () => {
        const label = `${methodPath(method)} ${protocol}/${httpVersion} ${c.how}${c.request.withLength ? "" : " (no length)"}`;
        const res = await wire.send(c.request).then(readOutcome, (err: Error) => err);
        tally.add(label, res);
      });
    });
  }
  return tasks;
}
