import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiKeyService } from "@onerouter/client/gen/onerouter/admin/v1/api_keys_pb";
import { SessionService } from "@onerouter/client/gen/onerouter/admin/v1/session_pb";
import { startTestOneRouter, type TestOneRouter } from "@onerouter/server/testing";
import { failure } from "../test/index";
import { failureBucket } from "./admission";

// Loopback is 127.0.0.0/8 on Linux, so each 127.x address is another client.
function keysFrom(app: TestOneRouter, from: string, secret: string, forwardedFor?: string) {
  return keysSending(app, from, { authorization: `Bearer ${secret}`, ...(forwardedFor ? { "x-forwarded-for": forwardedFor } : {}) });
}

function keysSending(app: TestOneRouter, from: string, headers: Record<string, string>) {
  return createClient(
    ApiKeyService,
    createConnectTransport({
      baseUrl: app.baseUrl,
      httpVersion: "1.1",
      nodeOptions: { localAddress: from },
      interceptors: [
        (next) => (req) => {
          for (const [name, value] of Object.entries(headers)) req.header.set(name, value);
          return next(req);
        },
      ],
    }),
  );
}

const unknownKey = () => `or_test_${randomBytes(32).toString("base64url")}`;

describe("failed authentication", () => {
  let app: TestOneRouter;
  let keyLookups = 0;
  beforeAll(async () => {
    app = await startTestOneRouter({
      env: {
        ONEROUTER_AUTH_FAILURES_BURST: "5",
        ONEROUTER_AUTH_FAILURES_PER_MINUTE: "6",
        ONEROUTER_TRUSTED_PROXY_CIDRS: "127.0.0.9/32",
      },
    });
    app.db.knex.on("query", (query: { sql: string; method?: string }) => {
      if (query.method === "first" && query.sql.includes("api_keys")) keyLookups += 1;
    });
  });
  afterAll(async () => app?.close());

  async function lookupsDuring(work: () => Promise<void>): Promise<number> {
    const before = keyLookups;
    await work();
    return keyLookups - before;
  }

  it("is limited per client address before the database is asked, and a good key elsewhere still works", async () => {
    const good = await app.createKey();
    const outcomes: { code: Code; reason?: string; metadata: Record<string, string> }[] = [];
    const lookups = await lookupsDuring(async () => {
      for (let i = 0; i < 40; i++) outcomes.push(await failure(keysFrom(app, "127.0.0.2", unknownKey()).listApiKeys({})));
    });
    expect(lookups).toBe(5);
    expect(outcomes.slice(0, 5).every((o) => o.reason === "API_KEY_UNKNOWN")).toBe(true);
    for (const limited of outcomes.slice(5)) {
      expect(limited).toMatchObject({ code: Code.ResourceExhausted, reason: "RATE_LIMITED" });
      expect(Number(limited.metadata.retry_after_ms)).toBeGreaterThan(0);
    }
    // Limited means limited, also with a good key and a made-up X-Forwarded-For.
    expect(await failure(keysFrom(app, "127.0.0.2", good.secret, "203.0.113.7").listApiKeys({}))).toMatchObject({
      code: Code.ResourceExhausted,
      reason: "RATE_LIMITED",
    });
    await keysFrom(app, "127.0.0.3", good.secret).listApiKeys({});
  });

  it("counts made-up session cookies as failures like unknown keys", async () => {
    const sessionsFrom = (from: string, token: string) => keysSending(app, from, { cookie: `onerouter_session=${token}` });
    const outcomes = [];
    for (let i = 0; i < 8; i++) outcomes.push(await failure(sessionsFrom("127.0.1.6", randomBytes(32).toString("base64url")).listApiKeys({})));
    expect(outcomes.slice(0, 5).map((o) => o.reason)).toEqual(Array(5).fill("SESSION_UNKNOWN"));
    expect(outcomes.slice(5).map((o) => [o.code, o.reason])).toEqual(Array(3).fill([Code.ResourceExhausted, "RATE_LIMITED"]));
  });

  it("counts wrong passwords at sign-in as failures of the client address", async () => {
    const signIns = createClient(
      SessionService,
      createConnectTransport({ baseUrl: app.baseUrl, httpVersion: "1.1", nodeOptions: { localAddress: "127.0.1.7" } }),
    );
    const outcomes = [];
    for (let i = 0; i < 7; i++) outcomes.push(await failure(signIns.signIn({ email: `guess${i}@example.com`, password: "guessed password" })));
    expect(outcomes.slice(0, 5).map((o) => o.reason)).toEqual(Array(5).fill("SIGN_IN_FAILED"));
    expect(outcomes.slice(5).map((o) => [o.code, o.reason])).toEqual(Array(2).fill([Code.ResourceExhausted, "RATE_LIMITED"]));
  });

  it("makes a parallel flood pay for every lookup it caused", async () => {
    // Holding the embedded database's one connection lets the whole wave
    // pass the check before any lookup answers.
    const pool = (app.db.knex.client as { pool: { numPendingAcquires(): number } }).pool;
    const hold = await app.db.knex.transaction();
    let calls: Promise<unknown>[] = [];
    const lookups = await lookupsDuring(async () => {
      calls = Array.from({ length: 30 }, () => failure(keysFrom(app, "127.0.0.7", unknownKey()).listApiKeys({})));
      // Background work (the gatekeeper's usage counts, pollers) may wait for
      // the connection too: the wave is in once 30 wait and no more come.
      const waitingSince = Date.now();
      let waiting = 0;
      let changedAt = Date.now();
      while (Date.now() - waitingSince < 20_000) {
        const now = pool.numPendingAcquires();
        if (now !== waiting) [waiting, changedAt] = [now, Date.now()];
        if (waiting >= 30 && Date.now() - changedAt > 1000) break;
        await sleep(20);
      }
      await hold.commit();
      await Promise.all(calls);
    });
    expect(lookups).toBe(30);
    const next = await failure(keysFrom(app, "127.0.0.7", unknownKey()).listApiKeys({}));
    expect(next).toMatchObject({ code: Code.ResourceExhausted, reason: "RATE_LIMITED" });
    // 6 failures a minute: each of the 25 lookups beyond the burst of 5 costs 10 s.
    expect(Number(next.metadata.retry_after_ms)).toBeGreaterThan(240_000);
  });

  it("remembers unknown keys briefly, so repeating one does not reach the database", async () => {
    const key = unknownKey();
    const lookups = await lookupsDuring(async () => {
      for (const from of ["127.0.0.4", "127.0.0.5", "127.0.0.6"]) {
        for (let i = 0; i < 3; i++) {
          expect(await failure(keysFrom(app, from, key).listApiKeys({}))).toMatchObject({ reason: "API_KEY_UNKNOWN" });
        }
      }
    });
    expect(lookups).toBe(1);
  });

  it("takes the client from X-Forwarded-For only behind a trusted proxy", async () => {
    const good = await app.createKey();
    for (let i = 0; i < 5; i++) await failure(keysFrom(app, "127.0.0.9", unknownKey(), "198.51.100.1").listApiKeys({}));
    expect(await failure(keysFrom(app, "127.0.0.9", unknownKey(), "198.51.100.1").listApiKeys({}))).toMatchObject({
      reason: "RATE_LIMITED",
    });
    // The proxy itself, speaking for another client, is not limited.
    await keysFrom(app, "127.0.0.9", good.secret, "198.51.100.2").listApiKeys({});
    // The client cannot hide behind a forged entry the proxy appends to.
    expect(
      await failure(keysFrom(app, "127.0.0.9", good.secret, "198.51.100.77, 198.51.100.1").listApiKeys({})),
    ).toMatchObject({ reason: "RATE_LIMITED" });
  });
});

describe("failureBucket", () => {
  it("counts an IPv4 client alone and an IPv6 client by its /64", () => {
    expect(failureBucket("203.0.113.5")).toBe("203.0.113.5");
    expect(failureBucket("2001:db8:0:1::5")).toBe("2001:db8:0:1::/64");
    expect(failureBucket("2001:0DB8:0000:0001:ffff:0:0:9")).toBe("2001:db8:0:1::/64");
    expect(failureBucket("::1")).toBe("0:0:0:0::/64");
    expect(failureBucket("2001:db8::")).toBe("2001:db8:0:0::/64");
    expect(failureBucket("64:ff9b::192.0.2.1")).toBe("64:ff9b:0:0::/64");
  });
});
