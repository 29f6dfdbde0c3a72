import { createHash, randomBytes } from "node:crypto";
import { create, fromBinary, toBinary, toJson, type DescMessage, type DescMethodUnary, type JsonValue, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { Knex } from "knex";
import { Counter, type Registry } from "prom-client";
import { columnsEqualSql, insertRowSql, runPrepared, updateSql, type Sql } from "./db/statements";
import { apiError, invalidArgument, normalizeError } from "./errors";
import { environmentName } from "./keys";
import { copyWith } from "./objects";
import type { ProcessLiveness } from "./process-liveness";
import { requireCaller } from "./services";

export { idempotencyMigrations } from "./idempotency-migrations";

// Stripe's idempotency semantics for mutating calls. The first request with
// an Idempotency-Key claims it (a row keyed by tenant, environment, method and
// key; the primary key makes the claim race-safe on every engine); its answer,
// success or error, is stored and replayed to every later request with the
// same key for at least a day.
//
// A run binds the key to the object it creates (a payment, a message, ...)
// in the transaction that creates it. A run that asks for it (`claimOnBind`)
// is not preceded by a claim of its own: its bind inserts the claim in that
// transaction, and when the key turns out to be held or answered already
// the transaction rolls back and the request goes the usual way. It may also
// store its answer in the transaction that settles it (`answer`), so the hot
// path of a mutating call is its own transactions and nothing more. A claim
// names its process and carries
// a lease that the process keeps renewing while the request runs. A retry
// takes over a claim whose process is provably gone at once (else once the
// lease has run out) and resumes the object bound to it, if any, instead of
// creating another: one object per key, whatever the moment of the crash.

export const idempotencyKeyHeader = "Idempotency-Key";
export const idempotentReplayedHeader = "Idempotent-Replayed";
const maxKeyLength = 255;

export interface IdempotencyOptions {
  // Tells a claim whose process is gone from one still running; without it
  // only the lease frees a claim.
  liveness?: ProcessLiveness;
  // How long a claim outlives its last renewal; renewed every third of it.
  leaseMs?: number;
  // How long an answer is kept for replays.
  retentionMs?: number;
  // Where onerouter_idempotency_conflicts_total is exported, when given.
  registry?: Registry;
}

// What a run learns of its key, and how it binds the key to its object.
export interface IdempotencyClaim<Response = unknown> {
  // The object an earlier run under this key bound before its process
  // stopped: this run carries it on instead of creating another.
  readonly resumeId: string | undefined;
  // Binds the key to the object the run creates (inside the transaction
  // that creates it) or acts on (before it acts). Throws, so the caller's
  // transaction rolls back, when another process has taken the key over.
  bind(knex: Knex, resourceId: string): Promise<void>;
  // Stores the run's answer inside the transaction that settles the run;
  // the run then returns this very answer.
  answer(knex: Knex, response: Response): Promise<void>;
  // bind as one write for the caller to fold into a statement of its own,
  // which writes its object only when the write returns a row. `bound` is
  // told how many rows it returned and throws as bind would when none.
  // Undefined when there is nothing to bind.
  bindWrite(resourceId: string): { write: Sql; bound(rows: number): void } | undefined;
  // answer as one write for the caller's statement in the settling transaction.
  answerWrite(response: Response): Sql | undefined;
  // answerWrite for a statement that may not apply: the answer is written
  // only when the statement's part named `guard` returns a row, and counts as
  // stored once the caller, having seen that it did, calls `written`.
  answerWriteIf(response: Response, guard: string): { write: Sql; written(): void } | undefined;
}

export type BindResource = IdempotencyClaim["bind"];

export interface Idempotency {
  // Runs `run` once per Idempotency-Key (when the request carries one) and
  // answers replays with what it returned or threw.
  // With `claimOnBind`, `run` must bind before any effect outside its
  // binding transaction.
  withIdempotency<I extends DescMessage, O extends DescMessage>(
    ctx: HandlerContext,
    method: DescMethodUnary<I, O>,
    request: MessageShape<I>,
    run: (claim: IdempotencyClaim<MessageShape<O>>) => Promise<MessageShape<O>>,
    options?: { claimOnBind?: boolean },
  ): Promise<MessageShape<O>>;
  // Drops answers past their retention; returns how many.
  purgeExpired(): Promise<number>;
}

interface KeyRow {
  fingerprint: string;
  status: "in_progress" | "completed";
  lease_owner: string | null;
  owner_instance: string | null;
  lease_expires_at: Date | string | null;
  resource_id: string | null;
  response: Uint8Array | null;
  error: StoredError | string | null;
  expires_at: Date | string;
}

interface StoredError {
  code: Code;
  message: string;
  details: { type: string; value: string }[];
}

// The row's primary key.
interface KeyId {
  tenant_id: string;
  environment: string;
  method: string;
  key: string;
}

type Claim = { kind: "run"; owner: string; resumeId: string | undefined } | { kind: "replay"; row: KeyRow };

// A request without a key: there is nothing to bind, resume or store.
export const noIdempotencyClaim: IdempotencyClaim<never> = {
  resumeId: undefined,
  bind: async () => undefined,
  answer: async () => undefined,
  bindWrite: () => undefined,
  answerWrite: () => undefined,
  answerWriteIf: () => undefined,
};

// The claim as a part of the run sees it: `wrap` turns the part's answer into the method's.
export function claimOf<Part, Response>(claim: IdempotencyClaim<Response>, wrap: (part: Part) => Response): IdempotencyClaim<Part> {
  return {
    resumeId: claim.resumeId,
    bind: claim.bind,
    answer: (knex, part) => claim.answer(knex, wrap(part)),
    bindWrite: claim.bindWrite,
    answerWrite: (part) => claim.answerWrite(wrap(part)),
    answerWriteIf: (part, guard) => claim.answerWriteIf(wrap(part), guard),
  };
}

// A claimOnBind run's bind found the key taken: the run starts over the usual way.
class KeyAlreadyClaimed extends Error {}

// Errors that answer nothing about the bound object: a retry resumes it.
const unfinished = new Set([Code.Unavailable, Code.Unknown, Code.Internal, Code.DeadlineExceeded]);

export function createIdempotency(knex: Knex, options: IdempotencyOptions = {}): Idempotency {
  const leaseMs = options.leaseMs ?? 60_000;
  const retentionMs = options.retentionMs ?? 24 * 3600_000;
  const table = "idempotency_keys";
  const liveness = options.liveness;
  const instance = liveness?.instanceId ?? null;
  const conflicts =
    options.registry &&
    new Counter({
      name: "onerouter_idempotency_conflicts_total",
      help: "Requests refused for their Idempotency-Key: reused with other parameters, or still in use",
      labelNames: ["reason"] as const,
      registers: [options.registry],
    });
  // Counts a refusal by its reason as it is thrown.
  const conflict = (err: ConnectError, reason: "IDEMPOTENCY_KEY_REUSED" | "IDEMPOTENCY_KEY_IN_USE") => {
    conflicts?.labels(reason).inc();
    return err;
  };

  // Whether the claim's process may still be running it: its lease holds
  // and its process is not provably gone.
  async function claimerAlive(row: KeyRow, now: number): Promise<boolean> {
    // A released claim waits for no one.
    if (row.lease_owner === null || row.lease_expires_at === null) return false;
    if (new Date(row.lease_expires_at).getTime() <= now) return false;
    if (!liveness || row.owner_instance === null || row.owner_instance === instance) return true;
    return !(await liveness.isGone(row.owner_instance));
  }

  async function claim(id: KeyId, fingerprint: string): Promise<Claim> {
    // A few rounds cover the rows that vanish or change between our reads.
    for (let round = 0; round < 3; round++) {
      const now = Date.now();
      const owner = randomBytes(12).toString("base64url");
      const inserted = await knex(table)
        .insert(claimRow(id, fingerprint, owner, now))
        .onConflict(["tenant_id", "environment", "method", "key"])
        .ignore()
        .returning("key");
      if (inserted.length > 0) return { kind: "run", owner, resumeId: undefined };

      const row = (await knex(table).where(id).first()) as KeyRow | undefined;
      if (!row) continue;
      if (new Date(row.expires_at).getTime() <= now) {
        // Past retention the key is free again.
        await knex(table).where(id).andWhere("expires_at", "<=", new Date(now)).delete();
        continue;
      }
      if (row.fingerprint !== fingerprint) {
        throw conflict(
          apiError(
            Code.InvalidArgument,
            "IDEMPOTENCY_KEY_REUSED",
            `${idempotencyKeyHeader} ${id.key} was already used with different parameters`,
            { idempotency_key: id.key },
          ),
          "IDEMPOTENCY_KEY_REUSED",
        );
      }
      if (row.status === "completed") return { kind: "replay", row };
      if (await claimerAlive(row, now)) throw conflict(inUse(id.key), "IDEMPOTENCY_KEY_IN_USE");
      // Its process is gone (or stopped renewing the lease): take the claim
      // over, with whatever it had bound by the time it stopped.
      const taken = (await knex(table)
        .where({ ...id, status: "in_progress" })
        .andWhere((q) => (row.lease_owner === null ? q.whereNull("lease_owner") : q.where("lease_owner", row.lease_owner)))
        .update({ lease_owner: owner, owner_instance: instance, lease_expires_at: new Date(now + leaseMs) })
        .returning("resource_id")) as { resource_id: string | null }[];
      if (taken.length > 0) return { kind: "run", owner, resumeId: taken[0]!.resource_id ?? undefined };
    }
    throw conflict(inUse(id.key), "IDEMPOTENCY_KEY_IN_USE");
  }

  function claimRow(id: KeyId, fingerprint: string, owner: string, now: number) {
    return copyWith(id, {
      fingerprint,
      status: "in_progress",
      lease_owner: owner,
      owner_instance: instance,
      lease_expires_at: new Date(now + leaseMs),
      created_at: new Date(now),
      expires_at: new Date(now + retentionMs),
    });
  }

  // `fingerprint` is given for a claimOnBind run, whose claim is made by its bind.
  async function runClaimed<O extends DescMessage>(
    id: KeyId,
    owner: string,
    resumeId: string | undefined,
    output: O,
    run: (claim: IdempotencyClaim<MessageShape<O>>) => Promise<MessageShape<O>>,
    fingerprint?: string,
  ): Promise<MessageShape<O>> {
    const mine = copyWith(id, { lease_owner: owner });
    const mineSql = columnsEqualSql(mine);
    let claimed = fingerprint === undefined;
    let isBound = resumeId !== undefined;
    let answered = false;
    const complete = (response: MessageShape<O>) => ({
      status: "completed",
      response: Buffer.from(toBinary(output, response)),
      lease_owner: null,
      lease_expires_at: null,
    });
    // The key's row written as bind writes it: inserted (claimOnBind) or tied to the object.
    const bindSql = (resourceId: string): Sql => {
      if (claimed) {
        const update = updateSql(table, { resource_id: resourceId }, { sql: `${mineSql.sql} and ("resource_id" is null or "resource_id" = ?)`, bindings: [...mineSql.bindings, resourceId] });
        return { sql: `${update.sql} returning "key"`, bindings: update.bindings };
      }
      const insert = insertRowSql(table, copyWith(claimRow(id, fingerprint!, owner, Date.now()), { resource_id: resourceId }));
      return { sql: `${insert.sql} on conflict ("tenant_id", "environment", "method", "key") do nothing returning "key"`, bindings: insert.bindings };
    };
    // The answer written only where the key is still this request's.
    const answerSql = (response: MessageShape<O>, guard?: string): Sql =>
      updateSql(table, complete(response), guard ? { sql: `${mineSql.sql} and exists (select from "${guard}")`, bindings: mineSql.bindings } : mineSql);
    const bound = (rows: number) => {
      if (rows === 0) throw claimed ? conflict(inUse(id.key), "IDEMPOTENCY_KEY_IN_USE") : new KeyAlreadyClaimed();
      claimed = isBound = true;
    };
    const claim: IdempotencyClaim<MessageShape<O>> = {
      resumeId,
      async bind(trx, resourceId) {
        bound((await runPrepared(trx, bindSql(resourceId))).rows.length);
      },
      async answer(trx, response) {
        if (!claimed) return;
        await runPrepared(trx, answerSql(response));
        answered = true;
      },
      bindWrite: (resourceId) => ({ write: bindSql(resourceId), bound }),
      answerWrite(response) {
        if (!claimed) return undefined;
        answered = true;
        return answerSql(response);
      },
      answerWriteIf(response, guard) {
        if (!claimed) return undefined;
        return { write: answerSql(response, guard), written: () => void (answered = true) };
      },
    };
    const renewal = setInterval(() => {
      knex(table)
        .where(mine)
        .update({ lease_expires_at: new Date(Date.now() + leaseMs) })
        .catch(() => undefined);
    }, leaseMs / 3);
    renewal.unref();
    let response: MessageShape<O>;
    try {
      response = await run(claim);
    } catch (err) {
      if (err instanceof KeyAlreadyClaimed) throw err;
      // Classified as the caller will be answered: a lost database
      // connection is UNAVAILABLE, not an answer to keep.
      const { error } = normalizeError(err);
      if (isBound && unfinished.has(error.code)) {
        // Something exists under this key: it is never forgotten, and the
        // claim is freed at once for a retry to resume it.
        await knex(table).where(mine).update({ lease_owner: null, owner_instance: null, lease_expires_at: null });
      } else if (error.code === Code.Unavailable) {
        // UNAVAILABLE promises that nothing was done and invites a retry with
        // the same key, so it is not kept.
        await knex(table).where(mine).delete();
      } else if (!claimed) {
        // Failed before binding: the answer is kept as any other's.
        await knex(table)
          .insert({ ...claimRow(id, fingerprint!, owner, Date.now()), status: "completed", error: JSON.stringify(storeError(error)), lease_owner: null, lease_expires_at: null })
          .onConflict(["tenant_id", "environment", "method", "key"])
          .ignore();
      } else {
        await knex(table)
          .where(mine)
          .update({ status: "completed", error: JSON.stringify(storeError(error)), lease_owner: null, lease_expires_at: null });
      }
      throw err;
    } finally {
      clearInterval(renewal);
    }
    if (!answered) {
      if (claimed) await knex(table).where(mine).update(complete(response));
      else {
        // Nothing bound (a run that created nothing): the answer is kept as any other's.
        await knex(table)
          .insert(copyWith(claimRow(id, fingerprint!, owner, Date.now()), complete(response)))
          .onConflict(["tenant_id", "environment", "method", "key"])
          .ignore();
      }
    }
    return response;
  }

  return {
    async withIdempotency(ctx, method, request, run, options) {
      const key = ctx.requestHeader.get(idempotencyKeyHeader);
      if (key === null) return run(noIdempotencyClaim);
      // A caller that sends the header means to be kept from doing the work
      // twice; an empty key (an unset variable) would leave its retries unkept.
      if (key === "") throw invalidArgument(idempotencyKeyHeader, "must not be empty: send a unique key, or leave the header out");
      if (key.length > maxKeyLength) {
        throw invalidArgument(idempotencyKeyHeader, `must be at most ${maxKeyLength} characters`);
      }
      const caller = requireCaller(ctx);
      const id: KeyId = {
        tenant_id: caller.tenantId,
        environment: environmentName(caller.environment),
        method: `${method.parent.typeName}/${method.name}`,
        key,
      };
      const print = fingerprint(method.input, request);
      if (options?.claimOnBind) {
        try {
          return await runClaimed(id, randomBytes(12).toString("base64url"), undefined, method.output, run, print);
        } catch (err) {
          if (!(err instanceof KeyAlreadyClaimed)) throw err;
        }
      }
      const outcome = await claim(id, print);
      if (outcome.kind === "run") return runClaimed(id, outcome.owner, outcome.resumeId, method.output, run);
      ctx.responseHeader.set(idempotentReplayedHeader, "true");
      const { row } = outcome;
      if (row.error !== null) throw replayError(typeof row.error === "string" ? (JSON.parse(row.error) as StoredError) : row.error);
      return fromBinary(method.output, row.response ?? new Uint8Array());
    },

    async purgeExpired() {
      // Counted from the returned rows: PGlite's driver does not report a row count.
      const purged = await knex(table).where("expires_at", "<=", new Date()).delete().returning("key");
      return purged.length;
    },
  };
}

function inUse(key: string): ConnectError {
  return apiError(
    Code.Aborted,
    "IDEMPOTENCY_KEY_IN_USE",
    `a request with ${idempotencyKeyHeader} ${key} is still running; retry once it has finished`,
    { idempotency_key: key },
  );
}

// The request as sorted proto3 JSON: the same parameters give the same
// fingerprint whatever the wire format or the order of map entries.
function fingerprint(schema: DescMessage, request: MessageShape<DescMessage>): string {
  return createHash("sha256").update(canonicalJson(toJson(schema, request))).digest("hex");
}

function canonicalJson(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k]!)}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value);
}

function storeError(error: ConnectError): StoredError {
  return {
    code: error.code,
    message: error.rawMessage,
    details: error.details.map((d) =>
      "desc" in d
        ? { type: d.desc.typeName, value: Buffer.from(toBinary(d.desc, create(d.desc, d.value))).toString("base64") }
        : { type: d.type, value: Buffer.from(d.value).toString("base64") },
    ),
  };
}

function replayError(stored: StoredError): ConnectError {
  const error = new ConnectError(stored.message, stored.code);
  // Kept as they travel on the wire: each protocol re-encodes them as sent.
  error.details = stored.details.map((d) => ({ type: d.type, value: Buffer.from(d.value, "base64") }));
  return error;
}
