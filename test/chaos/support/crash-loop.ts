import { randomBytes } from "node:crypto";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { DescService } from "@bufbuild/protobuf";
import { ErrorInfoSchema } from "@onerouter/client/gen/google/rpc/error_details_pb";

// Keeps a product process busy with idempotent calls, kills it with SIGKILL
// at random moments, restarts it, and retries every Idempotency-Key until it
// gets an answer, the way a careful client would.

export interface Restartable {
  start(): Promise<void>;
  kill(): Promise<void>;
}

export interface CrashLoopOptions<A> {
  product: Restartable;
  crashes: number;
  // Calls in flight at once.
  concurrency: number;
  // How many calls the product answers before each kill, picked at random in
  // [min, max): kills land in full flow however loaded the machine is.
  answersBeforeKill: [number, number];
  // After the last restart, how long keys may take to get their answer.
  settleTimeoutMs: number;
  // The whole run ends within this, so its figures are recorded even on a
  // machine too loaded to finish every crash round.
  budgetMs: number;
  // One call with the key as its Idempotency-Key; throws what the call threw.
  call(key: string): Promise<A>;
}

export interface CrashLoopResult<A> {
  keys: string[];
  answers: Map<string, A>;
  // Keys whose final answer was an error that is not worth retrying.
  refused: Map<string, ConnectError>;
  // Keys with a call in flight at the moment of a kill.
  interrupted: Set<string>;
  // Keys that never got an answer before settleTimeoutMs ran out.
  unanswered: string[];
  // The longest a key waited, after the last restart, for its answer.
  longestSettleMs: number;
  // Answers of IDEMPOTENCY_KEY_IN_USE seen on retries.
  inUseAnswers: number;
  // Kills made.
  crashes: number;
}

// Not an answer yet: the product was down, or still held the key.
export function worthRetrying(err: ConnectError): boolean {
  if (err.code === Code.Unavailable || err.code === Code.DeadlineExceeded) return true;
  const reason = err.findDetails(ErrorInfoSchema)[0]?.reason;
  if (reason === "IDEMPOTENCY_KEY_IN_USE") return true;
  // The product answers every error with an ErrorInfo; without one, the
  // connection was refused or cut ("socket hang up") before an answer.
  return reason === undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runCrashLoop<A>(options: CrashLoopOptions<A>): Promise<CrashLoopResult<A>> {
  const result: CrashLoopResult<A> = {
    keys: [],
    answers: new Map(),
    refused: new Map(),
    interrupted: new Set(),
    unanswered: [],
    longestSettleMs: 0,
    inUseAnswers: 0,
    crashes: 0,
  };
  // Keys to retry, each not before its time.
  const pending = new Map<string, number>();
  const inFlight = new Set<string>();

  // Between kills only fresh keys are sent, so each kill cuts calls not cut
  // before; every cut key is retried once the product is up for good.
  const nextKey = (fresh: boolean): string | undefined => {
    if (fresh) {
      const key = `chaos-${randomBytes(8).toString("hex")}`;
      result.keys.push(key);
      return key;
    }
    const now = Date.now();
    for (const [key, notBefore] of pending) {
      if (notBefore <= now) {
        pending.delete(key);
        return key;
      }
    }
    return undefined;
  };

  const attempt = async (key: string) => {
    inFlight.add(key);
    try {
      result.answers.set(key, await options.call(key));
    } catch (thrown) {
      const err = ConnectError.from(thrown);
      if (!worthRetrying(err)) {
        result.refused.set(key, err);
      } else {
        const inUse = err.findDetails(ErrorInfoSchema)[0]?.reason === "IDEMPOTENCY_KEY_IN_USE";
        if (inUse) result.inUseAnswers++;
        pending.set(key, Date.now() + (inUse ? 500 : 100));
      }
    } finally {
      inFlight.delete(key);
    }
  };

  const budgetEnd = Date.now() + options.budgetMs;
  for (let crash = 0; crash < options.crashes; crash++) {
    // Keep enough of the budget for the keys to settle.
    if (Date.now() + options.settleTimeoutMs > budgetEnd) break;
    result.crashes++;
    await options.product.start();
    let running = true;
    const workers = Array.from({ length: options.concurrency }, async () => {
      while (running) {
        const key = nextKey(true)!;
        await attempt(key);
      }
    });
    const [min, max] = options.answersBeforeKill;
    const target = result.answers.size + min + Math.floor(Math.random() * (max - min));
    const giveUp = Math.min(Date.now() + 120_000, budgetEnd - options.settleTimeoutMs);
    while (result.answers.size < target && Date.now() < giveUp) await sleep(20);
    running = false;
    for (const key of inFlight) result.interrupted.add(key);
    await options.product.kill();
    await Promise.all(workers);
  }

  await options.product.start();
  const settleStarted = Date.now();
  const deadline = Math.min(settleStarted + options.settleTimeoutMs, budgetEnd);
  const settlers = Array.from({ length: options.concurrency }, async () => {
    while (Date.now() < deadline && (pending.size > 0 || inFlight.size > 0)) {
      const key = nextKey(false);
      if (!key) {
        await sleep(100);
        continue;
      }
      await attempt(key);
      if (result.answers.has(key) || result.refused.has(key)) {
        result.longestSettleMs = Math.max(result.longestSettleMs, Date.now() - settleStarted);
      }
    }
  });
  await Promise.all(settlers);
  result.unanswered = [...pending.keys()];
  return result;
}

// A client that sends the API key and each call's Idempotency-Key, over
// HTTP/1.1 so a killed server costs only the calls it was answering.
export function chaosClient<S extends DescService>(baseUrl: string, service: S, secret: string): Client<S> {
  return createClient(
    service,
    createConnectTransport({
      baseUrl,
      httpVersion: "1.1",
      interceptors: [
        (next) => (req) => {
          req.header.set("authorization", `Bearer ${secret}`);
          return next(req);
        },
      ],
    }),
  );
}

export function withKey(key: string) {
  return { headers: { "Idempotency-Key": key }, timeoutMs: 15_000 };
}
