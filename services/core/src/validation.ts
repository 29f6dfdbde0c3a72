import type { DescMessage, Message } from "@bufbuild/protobuf";
import { reflect, type ReflectMessage } from "@bufbuild/protobuf/reflect";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { TimeRange } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { invalidArgument } from "./errors";

// Request checks every service makes the same way, answering
// INVALID_ARGUMENT naming the field.

// Stripe's metadata limits, which callers moving from it already respect.
const maxMetadataEntries = 50;
const maxMetadataKeyLength = 40;
const maxMetadataValueLength = 500;

export function requireId(field: string, value: string): string {
  if (value === "") throw invalidArgument(field, "is required");
  return value;
}

export function maxLength(field: string, value: string, max: number): string {
  if (value.length > max) throw invalidArgument(field, `must be at most ${max} characters`);
  return value;
}

// A dot-atom local part and a domain of letter-digit-hyphen labels with an
// alphabetic top-level label: what every email provider accepts.
const emailPattern =
  /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;

export function isEmailAddress(email: string): boolean {
  return email.length <= 254 && email.split("@")[0]!.length <= 64 && emailPattern.test(email);
}

export function validMetadata(field: string, metadata: Record<string, string>): Record<string, string> {
  const entries = Object.entries(metadata);
  if (entries.length > maxMetadataEntries) throw invalidArgument(field, `must have at most ${maxMetadataEntries} entries`);
  for (const [key, value] of entries) {
    if (key === "" || key.length > maxMetadataKeyLength) {
      throw invalidArgument(field, `keys must be 1 to ${maxMetadataKeyLength} characters (got "${key.slice(0, 50)}")`);
    }
    maxLength(`${field}[${key}]`, value, maxMetadataValueLength);
  }
  return metadata;
}

// A google.protobuf.Timestamp within its documented range (years 1 to 9999),
// as a Date; anything else is the caller's mistake, not a server error.
// The Date has the timestamp's milliseconds; its finer nanos are dropped.
export function validTimestamp(field: string, value: Timestamp): Date {
  const seconds = BigInt(value.seconds);
  if (value.nanos < 0 || value.nanos > 999_999_999 || seconds < -62_135_596_800n || seconds > 253_402_300_799n) {
    throw invalidArgument(field, "must be a time between the years 1 and 9999");
  }
  return new Date(Number(seconds) * 1000 + Math.floor(value.nanos / 1e6));
}

// Each bound a valid timestamp, the start not after the end.
export function validTimeRange(field: string, range: TimeRange | undefined): TimeRange | undefined {
  const { startTime, endTime } = range ?? {};
  const start = startTime && validTimestamp(`${field}.start_time`, startTime);
  const end = endTime && validTimestamp(`${field}.end_time`, endTime);
  if (start && end && start > end) throw invalidArgument(field, "start_time must not be after end_time");
  return range;
}

// A NUL character is valid in a protobuf string but not in a Postgres text
// value, nor in any id, name or address a caller means: every string of every
// request is refused with it, naming the field, before any handler runs.
export function rejectNulCharacters(schema: DescMessage, message: Message): void {
  const path = nulCharacterPath(reflect(schema, message), "");
  if (path !== undefined) throw invalidArgument(path, "must not contain NUL characters");
}

function nulCharacterPath(message: ReflectMessage, prefix: string): string | undefined {
  for (const field of message.fields) {
    if (!message.isSet(field)) continue;
    const path = prefix === "" ? field.name : `${prefix}.${field.name}`;
    switch (field.fieldKind) {
      case "scalar":
        if (hasNul(message.get(field))) return path;
        break;
      case "message": {
        const found = nulCharacterPath(message.get(field), path);
        if (found !== undefined) return found;
        break;
      }
      case "list": {
        let index = 0;
        for (const item of message.get(field)) {
          const itemPath = `${path}[${index++}]`;
          const found = field.listKind === "message" ? nulCharacterPath(item as ReflectMessage, itemPath) : hasNul(item) ? itemPath : undefined;
          if (found !== undefined) return found;
        }
        break;
      }
      case "map":
        for (const [key, value] of message.get(field)) {
          const entryPath = `${path}[${JSON.stringify(String(key))}]`;
          if (hasNul(key)) return entryPath;
          const found = field.mapKind === "message" ? nulCharacterPath(value as ReflectMessage, entryPath) : hasNul(value) ? entryPath : undefined;
          if (found !== undefined) return found;
        }
        break;
    }
  }
  return undefined;
}

function hasNul(value: unknown): boolean {
  return typeof value === "string" && value.includes("\u0000");
}
