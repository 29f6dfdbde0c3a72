import { timestampDate } from "@bufbuild/protobuf/wkt";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { Report } from "@onerouter/client/gen/onerouter/admin/v1/analytics_pb";
import { Category, type TimeRange } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { invalidArgument, whereCreatedIn, type Knex } from "@onerouter/core";
import { csvLine, type CsvCell } from "./csv";
import type { AnalyticsReader, AnalyticsScope } from "./rollup-reads";

// The reports as CSV, produced a page of rows at a time: each page is read
// with a keyset cursor (created_at, id), written as one chunk, and the next
// is read only when the consumer asks for more, so memory stays bounded
// whatever the size.

export interface CsvExport {
  filename: string;
  chunks: AsyncGenerator<string>;
}

const rowsPerChunk = 1000;

interface Listing {
  table: string;
  // What the cells are made of, read and nothing more.
  read: string[];
  columns: Record<string, (row: Record<string, unknown>) => CsvCell>;
}

const text = (column: string) => (row: Record<string, unknown>) => row[column] as string;
const integer = (column: string) => (row: Record<string, unknown>) => BigInt(row[column] as string);
const time = (column: string) => (row: Record<string, unknown>) => (row[column] ? new Date(row[column] as string) : null);
const errorField = (field: string) => (row: Record<string, unknown>) => {
  const error = row.error as Record<string, string> | string | null;
  if (error === null || error === undefined) return "";
  return (typeof error === "string" ? (JSON.parse(error) as Record<string, string>) : error)[field] ?? "";
};

const listings: Partial<Record<Report, Listing>> = {
  [Report.PAYMENTS]: {
    table: "payments",
    read: ["id", "created_at", "status", "amount", "currency", "capture_method", "provider", "provider_account_id", "provider_payment_id", "api_key_id", "fee", "description", "error"],
    columns: {
      id: text("id"),
      create_time: time("created_at"),
      status: text("status"),
      amount_minor: integer("amount"),
      currency: text("currency"),
      capture_method: text("capture_method"),
      provider: text("provider"),
      provider_account_id: text("provider_account_id"),
      provider_payment_id: text("provider_payment_id"),
      api_key_id: text("api_key_id"),
      fee_minor: integer("fee"),
      description: text("description"),
      failure_reason: errorField("reason"),
      failure_provider_code: errorField("providerCode"),
    },
  },
  [Report.MESSAGES]: {
    table: "messages",
    read: ["id", "created_at", "channel", "status", "country", "billable_units", "provider", "provider_account_id", "provider_message_id", "api_key_id", "price_micros", "price_currency", "sent_at", "delivered_at", "error"],
    columns: {
      id: text("id"),
      create_time: time("created_at"),
      channel: text("channel"),
      status: text("status"),
      country: text("country"),
      billable_units: integer("billable_units"),
      provider: text("provider"),
      provider_account_id: text("provider_account_id"),
      provider_message_id: text("provider_message_id"),
      api_key_id: text("api_key_id"),
      price_micros: integer("price_micros"),
      price_currency: text("price_currency"),
      sent_time: time("sent_at"),
      delivered_time: time("delivered_at"),
      failure_reason: errorField("reason"),
      failure_provider_code: errorField("providerCode"),
    },
  },
  [Report.DELIVERIES]: {
    table: "webhook_deliveries",
    read: ["id", "created_at", "event_id", "endpoint_id", "status", "attempt_count", "updated_at"],
    columns: {
      id: text("id"),
      create_time: time("created_at"),
      event_id: text("event_id"),
      endpoint_id: text("endpoint_id"),
      status: text("status"),
      attempt_count: integer("attempt_count"),
      update_time: time("updated_at"),
    },
  },
};

const reportNames: Partial<Record<Report, string>> = {
  [Report.PAYMENTS]: "payments",
  [Report.MESSAGES]: "messages",
  [Report.DELIVERIES]: "deliveries",
  [Report.PROVIDERS]: "providers",
  [Report.COSTS]: "costs",
};

// The report a name in a download's path stands for.
export function reportNamed(name: string): Report | undefined {
  const found = Object.entries(reportNames).find(([, n]) => n === name);
  return found && (Number(found[0]) as Report);
}

function day(range: TimeRange | undefined, bound: "startTime" | "endTime"): string {
  const at = range?.[bound];
  return at ? timestampDate(at).toISOString().slice(0, 10) : "all";
}

export function csvExport(knex: Knex, reader: AnalyticsReader, scope: AnalyticsScope, report: Report, range: TimeRange | undefined): CsvExport {
  const name = reportNames[report];
  if (!name) throw invalidArgument("report", "must be one of REPORT_PAYMENTS, REPORT_MESSAGES, REPORT_DELIVERIES, REPORT_PROVIDERS, REPORT_COSTS");
  const filename = `${name}-${scope.environment}-${day(range, "startTime")}-${day(range, "endTime")}.csv`;
  const listing = listings[report];
  if (listing) return { filename, chunks: listingChunks(knex, listing, scope, range) };
  return { filename, chunks: report === Report.PROVIDERS ? providerChunks(reader, scope, range) : costChunks(reader, scope, range) };
}

async function* listingChunks(knex: Knex, listing: Listing, scope: AnalyticsScope, range: TimeRange | undefined): AsyncGenerator<string> {
  const columns = Object.entries(listing.columns);
  yield csvLine(columns.map(([name]) => name));
  let cursor: { at: string; id: string } | undefined;
  for (;;) {
    const query = knex(listing.table)
      .select(...listing.read, knex.raw("created_at::text as cursor_at"))
      .where({ tenant_id: scope.tenantId, environment: scope.environment })
      .orderBy([{ column: "created_at" }, { column: "id" }])
      .limit(rowsPerChunk);
    whereCreatedIn(query, range, "created_at", "range");
    // The first condition lets the index start at the cursor; the second skips the rows up to it.
    if (cursor) query.where("created_at", ">=", knex.raw("?::timestamptz", [cursor.at])).whereRaw("(created_at, id) > (?::timestamptz, ?)", [cursor.at, cursor.id]);
    const rows = (await query) as Record<string, unknown>[];
    if (rows.length > 0) yield rows.map((row) => csvLine(columns.map(([, cell]) => cell(row)))).join("");
    if (rows.length < rowsPerChunk) return;
    const last = rows[rows.length - 1]!;
    cursor = { at: last.cursor_at as string, id: last.id as string };
  }
}

const categoryNames: Record<Category, string> = {
  [Category.UNSPECIFIED]: "",
  [Category.PAYMENTS]: "payments",
  [Category.MESSAGING]: "messaging",
};

async function* providerChunks(reader: AnalyticsReader, scope: AnalyticsScope, range: TimeRange | undefined): AsyncGenerator<string> {
  yield csvLine(["category", "provider", "provider_account_id", "attempts", "success_rate", "latency_p50_ms", "latency_p95_ms", "fee_currency", "fees_minor"]);
  for (const p of await reader.compareProviders(scope, Category.UNSPECIFIED, range)) {
    const head: CsvCell[] = [
      categoryNames[p.category],
      p.provider,
      p.providerAccountId,
      p.attemptCount,
      p.successRate,
      p.latencyP50 ? durationMs(p.latencyP50) : 0,
      p.latencyP95 ? durationMs(p.latencyP95) : 0,
    ];
    // One line per currency the account charged in; one without fees when it charged none.
    const fees = p.fees.length > 0 ? p.fees.map((f): CsvCell[] => [f.currency, f.amount]) : [["", ""]];
    yield fees.map((fee) => csvLine([...head, ...fee])).join("");
  }
}

async function* costChunks(reader: AnalyticsReader, scope: AnalyticsScope, range: TimeRange | undefined): AsyncGenerator<string> {
  yield csvLine(["category", "provider", "currency", "count", "cost_micros"]);
  const { lines } = await reader.costs(scope, range);
  yield lines.map((l) => csvLine([categoryNames[l.category], l.provider, l.currency, l.count, l.costMicros])).join("");
}
