import { Readable } from "node:stream";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { parse } from "csv-parse";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AnalyticsService, Report } from "@onerouter/client/gen/onerouter/admin/v1/analytics_pb";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { createTenant } from "@onerouter/admin";
import { postgresAvailable } from "@onerouter/core/testing";
import { apiClient, startTestOneRouter, type TestOneRouter } from "../test/index";

// Exports of any size stream: 200,000 payments go out as CSV through the
// console's download route while the process's memory stays within 50 MiB
// of where it started, and parse back with a real CSV parser to the rows,
// formulas neutralized. On Postgres, so the database is not in this process's memory.

const rowCount = 200_000;
const start = Date.UTC(2026, 9, 1);
const stepMs = 10_000;
const descriptions = (i: number) => [`=HYPERLINK("http://x",${i})`, `order ${i}, "gift"`, `@${i}`, `line\nbreak ${i}`][i % 4]!;
const currencies = ["USD", "EUR", "JPY"];

// Row i as seeded, as the CSV must show it.
function expectedRow(i: number) {
  const description = descriptions(i);
  return {
    id: `pay_export_${String(i).padStart(6, "0")}`,
    create_time: new Date(start + i * stepMs).toISOString(),
    amount_minor: String(((i * 37) % 100_000) + 1),
    currency: currencies[i % 3]!,
    description: /^[=+\-@\t\r]/.test(description) ? `'${description}` : description,
    fee_minor: String(i % 500),
  };
}

const run = postgresAvailable() ? describe : describe.skip;

run("CSV exports [postgres]", () => {
  let app: TestOneRouter;
  let secret: string;
  let otherSecret: string;

  beforeAll(async () => {
    app = await startTestOneRouter({ engine: "postgres" });
    const tenant = await createTenant(app.db.knex, { name: "Exports", planId: "enterprise" });
    const other = await createTenant(app.db.knex, { name: "Other", planId: "enterprise" });
    secret = (await app.createKey(Environment.TEST, tenant.id)).secret;
    otherSecret = (await app.createKey(Environment.TEST, other.id)).secret;
    await app.db.knex.raw(
      `insert into payments (id, tenant_id, environment, amount, currency, capture_method, status, description,
         provider, provider_account_id, fee, created_at, updated_at)
       select 'pay_export_' || lpad(i::text, 6, '0'), ?, 'test', i * 37 % 100000 + 1, (array['USD', 'EUR', 'JPY'])[i % 3 + 1],
         'automatic', 'succeeded',
         case i % 4 when 0 then '=HYPERLINK("http://x",' || i || ')' when 1 then 'order ' || i || ', "gift"'
           when 2 then '@' || i else E'line\\nbreak ' || i end,
         'sandbox', 'pa_export', i % 500, to_timestamp(? / 1000.0 + i * ?), to_timestamp(? / 1000.0 + i * ?)
       from generate_series(0, ? - 1) i`,
      [tenant.id, start, stepMs / 1000, start, stepMs / 1000, rowCount],
    );
  }, 300_000);
  afterAll(async () => app?.close());

  const download = (path: string, key?: string, init: RequestInit = {}) =>
    fetch(`${app.baseUrl}${path}`, { ...init, headers: key ? { authorization: `Bearer ${key}` } : {} });
  const window = (rows: number) => `start_time=${new Date(start).toISOString()}&end_time=${new Date(start + rows * stepMs).toISOString()}`;

  it("streams 200,000 payments with memory bounded, and they parse back to the rows", async () => {
    const rss = () => process.memoryUsage().rss;
    const before = rss();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rss())), 20);
    try {
      const res = await download(`/exports/payments.csv?${window(rowCount)}`, secret);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
      expect(res.headers.get("content-disposition")).toBe('attachment; filename="payments-test-2026-10-01-2026-10-24.csv"');
      const records = Readable.fromWeb(res.body as import("node:stream/web").ReadableStream).pipe(parse({ columns: true }));
      let i = 0;
      for await (const record of records as AsyncIterable<Record<string, string>>) {
        const expected = expectedRow(i);
        const actual = { id: record.id, create_time: record.create_time, amount_minor: record.amount_minor, currency: record.currency, description: record.description, fee_minor: record.fee_minor };
        // Compared row by row, so the test keeps no copy of the export either.
        if (JSON.stringify(actual) !== JSON.stringify(expected)) expect(actual).toEqual(expected);
        i++;
      }
      expect(i).toBe(rowCount);
    } finally {
      clearInterval(sampler);
    }
    expect((peak - before) / 2 ** 20).toBeLessThan(50);
  }, 300_000);

  it("streams the same bytes over StreamCsvExport, the file name on the first chunk", async () => {
    const range = { startTime: timestampFromDate(new Date(start)), endTime: timestampFromDate(new Date(start + 2500 * stepMs)) };
    const chunks: Uint8Array[] = [];
    const names: string[] = [];
    for await (const part of apiClient(app, AnalyticsService, secret).streamCsvExport({ report: Report.PAYMENTS, range })) {
      chunks.push(part.chunk);
      names.push(part.filename);
    }
    expect(chunks.length).toBeGreaterThan(2);
    expect(names[0]).toBe("payments-test-2026-10-01-2026-10-01.csv");
    expect(names.slice(1).every((n) => n === "")).toBe(true);
    const downloaded = Buffer.from(await (await download(`/exports/payments.csv?${window(2500)}`, secret)).arrayBuffer());
    expect(Buffer.concat(chunks).equals(downloaded)).toBe(true);
  });

  it("authenticates downloads like every call and keeps tenants apart", async () => {
    const unauthenticated = await download("/exports/payments.csv");
    expect(unauthenticated.status).toBe(401);
    expect(await unauthenticated.json()).toMatchObject({ code: "unauthenticated", reason: "API_KEY_MISSING" });
    expect((await download("/exports/payments.csv", "or_test_notakey")).status).toBe(401);
    const other = await download(`/exports/payments.csv?${window(1000)}`, otherSecret);
    expect(other.status).toBe(200);
    expect((await other.text()).split("\r\n").filter((l) => l !== "")).toHaveLength(1);
    expect((await download("/exports/everything.csv", secret)).status).toBe(404);
    expect((await download("/exports/payments.csv?start_time=yesterday", secret)).status).toBe(400);
    expect((await download("/exports/payments.csv", secret, { method: "POST" })).status).toBe(405);
  });
});
