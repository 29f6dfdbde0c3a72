import { create, fromJson, toBinary, ScalarType, type DescEnum, type DescField, type DescMessage, type JsonValue } from "@bufbuild/protobuf";
import { reflect, type ReflectMessage } from "@bufbuild/protobuf/reflect";
import { DurationSchema, TimestampSchema } from "@bufbuild/protobuf/wkt";
import fc from "fast-check";

// Request bodies for the fuzz suites: proto3 JSON generated from each
// method's input descriptor by fast-check (valid, nearly valid and plainly
// wrong values side by side), and byte-level mutations of valid encodings.

// A seeded generator, so a failing run can be repeated with FUZZ_SEED.
export class Rng {
  constructor(private state: number) {}
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(max: number): number {
    return Math.floor(this.next() * max);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

export function fuzzSeed(): number {
  return Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
}

const hostileStrings = [
  "a\u0000b",
  "\u0000",
  "pay_\u0000",
  "%zz%",
  "%E0%A4%A",
  "\ud800",
  "💳".repeat(40),
  "x".repeat(5000),
  "' OR 1=1 --",
  "../../etc/passwd",
  "<script>",
  "",
  " ",
];

const hostileNumbers: JsonValue[] = ["99999999999999999999", "-99999999999999999999", "1e400", 1e308, -1, 0, 2 ** 53, "NaN", "Infinity", "0x10", 1.5, "", true];

function stringArb(): fc.Arbitrary<JsonValue> {
  return fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: "binary", maxLength: 20 }), fc.constantFrom(...hostileStrings), fc.integer());
}

function scalarArb(type: ScalarType): fc.Arbitrary<JsonValue> {
  switch (type) {
    case ScalarType.STRING:
      return stringArb();
    case ScalarType.BOOL:
      return fc.oneof(fc.boolean(), fc.constantFrom<JsonValue>("yes", 1, null));
    case ScalarType.BYTES:
      return fc.oneof(fc.base64String({ maxLength: 40 }), fc.constantFrom<JsonValue>("!!not base64", 7));
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(...hostileNumbers));
    default:
      return fc.oneof(
        fc.integer({ min: -1000, max: 100_000 }),
        fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map((n) => n.toString()),
        fc.constantFrom(...hostileNumbers),
      );
  }
}

function enumArb(desc: DescEnum): fc.Arbitrary<JsonValue> {
  return fc.oneof(
    fc.constantFrom(...desc.values.map((v) => v.name)),
    fc.integer({ min: -3, max: 1000 }),
    fc.constantFrom<JsonValue>("NOT_A_VALUE", "", true),
  );
}

const wellKnown: Record<string, fc.Arbitrary<JsonValue>> = {
  "google.protobuf.Timestamp": fc.oneof(
    fc.date({ min: new Date("1990-01-01"), max: new Date("2100-01-01"), noInvalidDate: true }).map((d) => d.toISOString()),
    fc.constantFrom<JsonValue>("not a time", "0000-01-01T00:00:00Z", "9999-12-31T23:59:60Z", 12),
  ),
  "google.protobuf.Duration": fc.constantFrom<JsonValue>("3s", "-1s", "1e9s", "forever", 5),
  "google.protobuf.Struct": fc.oneof(fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }), fc.constant<JsonValue>([])),
  "google.protobuf.Value": fc.oneof(fc.string(), fc.integer(), fc.constant<JsonValue>(null)),
  "google.protobuf.FieldMask": fc.constantFrom<JsonValue>("displayName", "a.b,c", "", "no such"),
};

function singularArb(field: DescField, depth: number): fc.Arbitrary<JsonValue> {
  if (field.message) return messageArb(field.message, depth + 1);
  if (field.enum) return enumArb(field.enum);
  return scalarArb(field.scalar ?? ScalarType.STRING);
}

function fieldArb(field: DescField, depth: number): fc.Arbitrary<JsonValue> {
  switch (field.fieldKind) {
    case "list":
      return fc.oneof(fc.array(singularArb(field, depth), { maxLength: 3 }), singularArb(field, depth));
    case "map":
      return fc.dictionary(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom(...hostileStrings.slice(0, 6))), singularArb(field, depth), {
        maxKeys: 3,
      }) as fc.Arbitrary<JsonValue>;
    default:
      return singularArb(field, depth);
  }
}

const maxDepth = 3;

export function messageArb(schema: DescMessage, depth = 0): fc.Arbitrary<JsonValue> {
  const known = wellKnown[schema.typeName];
  if (known) return known;
  if (depth >= maxDepth || schema.fields.length === 0) return fc.constant({});
  const entries = schema.fields.map((field) =>
    fc.option(fieldArb(field, depth).map((v) => [field.jsonName, v] as const), { freq: 2, nil: undefined }),
  );
  return fc
    .tuple(fc.tuple(...entries), fc.option(fc.constantFrom("unknownField", "amout", "__proto__"), { freq: 6, nil: undefined }))
    .map(([pairs, unknown]) => {
      const out: Record<string, JsonValue> = {};
      for (const pair of pairs) if (pair) out[pair[0]] = pair[1];
      if (unknown) out[unknown] = 1;
      return out;
    });
}

export function sampleJson(schema: DescMessage, count: number, seed: number): JsonValue[] {
  return fc.sample(messageArb(schema), { numRuns: count, seed });
}

// The binary encoding of `json` when it is a valid message, else of an
// empty one, so binary mutations start from bytes that decode.
export function validBinary(schema: DescMessage, json: JsonValue): Uint8Array {
  try {
    return toBinary(schema, messageOf(schema, json));
  } catch {
    return toBinary(schema, create(schema));
  }
}

// The generated JSON as a message; the empty message where the JSON does not fit the schema.
function messageOf(schema: DescMessage, json: JsonValue) {
  try {
    return fromJson(schema, json);
  } catch {
    return create(schema);
  }
}

// Times and durations only a binary client can send: the JSON form refuses
// them. Each Timestamp and Duration a request holds is given one (at the top
// level and in set messages, and in an unset message made only of times, as
// a TimeRange).
const durationsBeyondJson = [
  { seconds: 10n ** 15n, nanos: 0 },
  { seconds: -(10n ** 15n), nanos: 0 },
  { seconds: 0n, nanos: -1 },
  { seconds: 1n, nanos: -1 },
  { seconds: 0n, nanos: 1_000_000_000 },
];
const timesBeyondJson = [
  { seconds: 10n ** 15n, nanos: 0 },
  { seconds: -(10n ** 15n), nanos: 0 },
  { seconds: 253_402_300_800n, nanos: 0 },
  { seconds: 0n, nanos: -1 },
  { seconds: 0n, nanos: 1_000_000_000 },
];

export function binaryWithTimesBeyondJson(schema: DescMessage, json: JsonValue, rng: Rng): Uint8Array {
  const message = messageOf(schema, json);
  setTimesBeyondJson(reflect(schema, message), rng, 0);
  return toBinary(schema, message);
}

function setTimesBeyondJson(message: ReflectMessage, rng: Rng, depth: number): void {
  for (const field of message.fields) {
    if (field.fieldKind !== "message") continue;
    if (field.message.typeName === TimestampSchema.typeName) {
      message.set(field, reflect(TimestampSchema, create(TimestampSchema, rng.pick(timesBeyondJson))));
      continue;
    }
    if (field.message.typeName === DurationSchema.typeName) {
      message.set(field, reflect(DurationSchema, create(DurationSchema, rng.pick(durationsBeyondJson))));
      continue;
    }
    const onlyTimes = field.message.fields.every((f) => f.message?.typeName === TimestampSchema.typeName);
    if (depth >= 3 || (!message.isSet(field) && !onlyTimes)) continue;
    const child = message.isSet(field) ? message.get(field) : reflect(field.message, create(field.message));
    setTimesBeyondJson(child, rng, depth + 1);
    message.set(field, child);
  }
}

export const byteMutations = [
  "truncate",
  "flip",
  "insert",
  "append-garbage",
  "wrong-wire-type",
  "huge-length",
  "unknown-field",
  "bad-utf8",
  "empty",
] as const;
export type ByteMutation = (typeof byteMutations)[number];

// Breaks a protobuf encoding in one of the ways a broken client or an
// attacker would.
export function mutateBinary(bytes: Uint8Array, mutation: ByteMutation, rng: Rng): Buffer {
  const b = Buffer.from(bytes);
  switch (mutation) {
    case "truncate":
      return b.subarray(0, b.length > 1 ? rng.int(b.length) : 0);
    case "flip": {
      if (b.length === 0) return Buffer.from([rng.int(256)]);
      const out = Buffer.from(b);
      const at = rng.int(out.length);
      out[at] = out[at]! ^ (1 << rng.int(8));
      return out;
    }
    case "insert": {
      const at = rng.int(b.length + 1);
      return Buffer.concat([b.subarray(0, at), Buffer.from([rng.int(256), rng.int(256)]), b.subarray(at)]);
    }
    case "append-garbage":
      return Buffer.concat([b, Buffer.from(Array.from({ length: 1 + rng.int(8) }, () => rng.int(256)))]);
    case "wrong-wire-type":
      // Field 1 with wire type 3, 4, 6 or 7 (groups and invalid types).
      return Buffer.concat([Buffer.from([(1 << 3) | rng.pick([3, 4, 6, 7]), 1, 2]), b]);
    case "huge-length":
      // Field 2, length-delimited, claiming about 4 GB.
      return Buffer.concat([b, Buffer.from([0x12, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x61])]);
    case "unknown-field":
      // Field 1999, varint: valid protobuf that this schema does not know.
      return Buffer.concat([b, Buffer.from([0xf8, 0xf9, 0x07, 0x01])]);
    case "bad-utf8":
      // Field 1 as a string holding bytes that are not UTF-8.
      return Buffer.concat([Buffer.from([0x0a, 0x03, 0xff, 0xfe, 0xc0]), b]);
    case "empty":
      return Buffer.alloc(0);
  }
}

export const jsonMutations = ["truncate", "not-json", "wrong-root", "bad-utf8", "nul-text", "deep", "duplicate-key", "trailing"] as const;
export type JsonMutation = (typeof jsonMutations)[number];

export function mutateJson(text: string, mutation: JsonMutation, rng: Rng): Buffer {
  switch (mutation) {
    case "truncate":
      return Buffer.from(text.slice(0, rng.int(Math.max(1, text.length))));
    case "not-json":
      return Buffer.from(rng.pick(["{not json", "undefined", "'single'", "{\"a\":}", "\u0000", "NaN"]));
    case "wrong-root":
      return Buffer.from(rng.pick(["[]", "null", "42", "\"text\"", "true"]));
    case "bad-utf8":
      return Buffer.concat([Buffer.from('{"x":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    case "nul-text":
      return Buffer.from(text.replace(/"([^"\\]*)"\s*:\s*"/, '"$1":"\\u0000'));
    case "deep":
      return Buffer.from(`${"{\"a\":".repeat(200)}1${"}".repeat(200)}`);
    case "duplicate-key":
      return Buffer.from(text.length > 2 ? `${text.slice(0, -1)},${text.slice(1)}` : '{"a":1,"a":2}');
    case "trailing":
      return Buffer.from(`${text} {}`);
  }
}
