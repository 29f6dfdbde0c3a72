import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { invalidArgument } from "./errors";
import { validTimestamp } from "./validation";

// AIP-158 paging: opaque tokens carrying the last row's (created_at, id) so
// pages stay stable while rows are inserted.

export interface PageCursor {
  createdAt: string;
  id: string;
}

export interface PageRequest {
  pageSize: number;
  pageToken: string;
}

export function pageSize(requested: number, max = 100, fallback = 20): number {
  if (requested < 0) throw invalidArgument("page_size", "must not be negative");
  if (requested === 0) return fallback;
  return Math.min(requested, max);
}

export function encodePageToken(cursor: PageCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.id])).toString("base64url");
}

export function decodePageToken(token: string): PageCursor | undefined {
  if (token === "") return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (Array.isArray(parsed) && parsed.length === 2 && parsed.every((p) => typeof p === "string")) {
      return { createdAt: parsed[0] as string, id: parsed[1] as string };
    }
  } catch {
    // fall through to the error below
  }
  throw invalidArgument("page_token", "is not a token this API returned");
}

// Rows come newest first. Fetches one row more than asked to know whether
// another page exists.
export async function paginate<Row extends { created_at: Date | string; id: string }>(
  query: import("knex").Knex.QueryBuilder,
  request: PageRequest,
  table?: string,
): Promise<{ rows: Row[]; nextPageToken: string }> {
  const size = pageSize(request.pageSize);
  const cursor = decodePageToken(request.pageToken);
  const col = (c: string) => (table ? `${table}.${c}` : c);
  if (cursor) {
    query.where((q) =>
      q
        .where(col("created_at"), "<", cursor.createdAt)
        .orWhere((q2) => q2.where(col("created_at"), "=", cursor.createdAt).andWhere(col("id"), "<", cursor.id)),
    );
  }
  const rows = (await query.orderBy([
    { column: col("created_at"), order: "desc" },
    { column: col("id"), order: "desc" },
  ]).limit(size + 1)) as Row[];
  const more = rows.length > size;
  const page = more ? rows.slice(0, size) : rows;
  const last = page[page.length - 1];
  return {
    rows: page,
    nextPageToken:
      more && last ? encodePageToken({ createdAt: new Date(last.created_at).toISOString(), id: last.id }) : "",
  };
}

// A list's create_time filter, half-open as TimeRange defines it:
// start_time <= created_at < end_time; an unset bound is open. A bound
// outside the years 1 to 9999 is refused as `field`'s, not sent to the database.
export function whereCreatedIn(
  query: import("knex").Knex.QueryBuilder,
  range: { startTime?: Timestamp; endTime?: Timestamp } | undefined,
  column = "created_at",
  field = "create_time",
): void {
  if (range?.startTime) query.where(column, ">=", validTimestamp(`${field}.start_time`, range.startTime));
  if (range?.endTime) query.where(column, "<", validTimestamp(`${field}.end_time`, range.endTime));
}
