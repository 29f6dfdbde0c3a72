import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "@onerouter/client/gen/google/rpc/error_details_pb";
import knexFactory from "knex";
import { describe, expect, inject, it } from "vitest";
import { freePort } from "../../../../test/infra";
import { normalizeError } from "../errors";
import { isDatabaseUnavailable } from "./unavailable";
import { createTestDatabaseUrl, postgresAvailable } from "../../test/database";

async function thrownBy(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected a failure");
    },
    (err: unknown) => err,
  );
}

describe("isDatabaseUnavailable", () => {
  it("recognizes a refused connection, and answers it UNAVAILABLE with DATABASE_UNAVAILABLE", async () => {
    const knex = knexFactory({ client: "pg", connection: `postgres://postgres@127.0.0.1:${await freePort()}/x`, pool: { min: 0, max: 1 } });
    const err = await thrownBy(knex.raw("select 1"));
    await knex.destroy();
    expect(isDatabaseUnavailable(err)).toBe(true);
    const { error } = normalizeError(err);
    expect(error.code).toBe(Code.Unavailable);
    expect(error.findDetails(ErrorInfoSchema)[0]?.reason).toBe("DATABASE_UNAVAILABLE");
    // Also when a handler wrapped it without saying why.
    expect(normalizeError(ConnectError.from(err)).error.code).toBe(Code.Unavailable);
  });

  it.skipIf(!postgresAvailable())("recognizes a connection the server terminated, not a query error", async () => {
    const knex = knexFactory({ client: "pg", connection: await createTestDatabaseUrl(), pool: { min: 0, max: 1 } });
    try {
      const queryError = await thrownBy(knex.raw("select * from no_such_table"));
      expect(isDatabaseUnavailable(queryError)).toBe(false);
      expect(normalizeError(queryError).error.code).toBe(Code.Internal);

      const admin = knexFactory({ client: "pg", connection: inject("postgresUrl"), pool: { min: 0, max: 1 } });
      const terminated = thrownBy(knex.raw("select pg_sleep(10)"));
      await new Promise((r) => setTimeout(r, 300));
      await admin.raw("select pg_terminate_backend(pid) from pg_stat_activity where query = 'select pg_sleep(10)'");
      await admin.destroy();
      const err = await terminated;
      expect(isDatabaseUnavailable(err)).toBe(true);
      expect(normalizeError(err).error.code).toBe(Code.Unavailable);
    } finally {
      await knex.destroy();
    }
  });

  it("recognizes a lost connection behind the query knex puts in front of the message", () => {
    expect(isDatabaseUnavailable(new Error('select * from "api_keys" - Connection terminated unexpectedly'))).toBe(true);
  });

  it("leaves other errors alone", () => {
    expect(isDatabaseUnavailable(new Error("duplicate key value violates unique constraint"))).toBe(false);
    expect(isDatabaseUnavailable("ECONNREFUSED")).toBe(false);
  });
});
