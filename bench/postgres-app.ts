import { randomBytes } from "node:crypto";
import http from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createApiKey } from "@onerouter/admin";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { createLogger, loadConfig } from "@onerouter/core";
import { limitHeapGrowth, startOneRouter, type OneRouter } from "@onerouter/server";
import { startPostgres } from "../test/infra";

// Runs `measure` against OneRouter on a Postgres of its own, without rate
// limits, then stops both; `settings` adds to (or overrides) the config.
// Closing is not part of any measurement: bounded, then the caller exits.
export async function withPostgresApp<T>(settings: Record<string, string>, measure: (app: OneRouter, postgresUrl: string) => Promise<T>): Promise<T> {
  const postgres = await startPostgres();
  if (!postgres) throw new Error("no PostgreSQL binaries found (pg_ctl and initdb on PATH or under /usr/lib/postgresql)");
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "onerouter-bench-"));
  let app: OneRouter | undefined;
  try {
    app = await startBenchApp(dataDir, { DATABASE_URL: postgres.url, ...settings });
    return await measure(app, postgres.url);
  } finally {
    await Promise.race([app?.close(), new Promise((r) => setTimeout(r, 5000).unref())]).catch(() => undefined);
    await postgres.stop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// OneRouter on loopback, silent, with a master key of its own and no rate
// limits, its data in `dataDir` (PGlite, unless `settings` gives a DATABASE_URL),
// its heap's growth limited as the CLI's server commands limit it.
export function startBenchApp(dataDir: string, settings: Record<string, string>): Promise<OneRouter> {
  const config = loadConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    ONEROUTER_DATA_DIR: dataDir,
    LOG_LEVEL: "silent",
    ONEROUTER_MASTER_KEY: randomBytes(32).toString("base64"),
    ONEROUTER_RATE_LIMIT_RPS: "1000000",
    ONEROUTER_RATE_LIMIT_BURST: "1000000",
    ...settings,
  });
  limitHeapGrowth(config);
  return startOneRouter(config, createLogger("silent"));
}

// Runs a benchmark's main and exits explicitly: nothing left behind (pools,
// timers) may keep a finished benchmark alive.
export function runBenchmark(main: () => Promise<unknown>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}

// The attempts of payments seeded from generate_series(from, to) as i, as
// the product records them: one each, and a tenth with a first, failed one
// before it (a failover); a twentieth declined. `tenant`, `provider` and
// `account` are SQL expressions of i and n (the attempt's number), with `?`
// bound by the caller.
export function seededPaymentAttemptsSql(input: { prefix: string; from: number; to: number; at: string; tenant: string; provider: string; account: string }): string {
  const { prefix, from, to, at, tenant, provider, account } = input;
  return `insert into payment_attempts (id, payment_id, tenant_id, environment, provider, provider_account_id, status, error,
         latency_ms, estimated_fee, created_at, updated_at)
       select 'att_${prefix}_' || i || '_' || n, 'pay_${prefix}_' || i, ${tenant}, 'test', ${provider}, ${account},
         case when n = 0 and i % 10 = 0 then 'failed' when i % 20 = 0 then 'declined' else 'succeeded' end,
         case when n = 0 and i % 10 = 0 then '{"reason":"PROVIDER_UNAVAILABLE","providerCode":"503"}'::jsonb
              when i % 20 = 0 then '{"reason":"PROVIDER_DECLINED","providerCode":"card_declined"}'::jsonb end,
         50 + (i::bigint * 7919) % 900, 30 + i % 70, ${at} + n * interval '1 second', ${at} + n * interval '1 second'
       from generate_series(${from}, ${to}) i cross join generate_series(0, 1) n
       where n = 0 or i % 10 = 0`;
}

// A Connect transport to the app over HTTP/1.1 with a new API key of the
// tenant's test environment, keeping up to `sockets` connections alive.
export async function apiKeyTransport(app: OneRouter, tenantId: string, name: string, sockets: number): Promise<Transport> {
  const { secret } = await createApiKey(app.db.knex, { tenantId, environment: Environment.TEST, name, createdBy: "bench" });
  const authorize: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${secret}`);
    return next(req);
  };
  return createConnectTransport({
    baseUrl: `http://127.0.0.1:${app.server.port}`,
    httpVersion: "1.1",
    nodeOptions: { agent: new http.Agent({ keepAlive: true, maxSockets: sockets }) },
    interceptors: [authorize],
  });
}
