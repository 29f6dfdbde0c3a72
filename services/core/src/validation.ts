import { timestampMs } from "@bufbuild/protobuf/wkt";
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

export function validTimeRange(field: string, range: TimeRange | undefined): TimeRange | undefined {
  const { startTime, endTime } = range ?? {};
  if (startTime && endTime && timestampMs(startTime) > timestampMs(endTime)) {
    throw invalidArgument(field, "start_time must not be after end_time");
  }
  return range;
}
