import type { DescMethod } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import {
  Code,
  ConnectError,
  createContextValues,
  type ContextValues,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { createMethodUrl, runStreamingCall, runUnaryCall } from "@connectrpc/connect/protocol";
import { retryDelayMs } from "./errors";

export interface RetryOptions {
  /** Attempts in total, the first one included. */
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

export const defaultRetryOptions: RetryOptions = {
  maxAttempts: 3,
  initialBackoffMs: 200,
  maxBackoffMs: 5_000,
};

const idempotencyKeyHeader = "Idempotency-Key";

/**
 * Whether a method changes state: every method but those whose proto declares
 * `option idempotency_level = NO_SIDE_EFFECTS`.
 */
export function isMutatingMethod(method: DescMethod): boolean {
  return method.idempotency !== MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;
}

export function authInterceptor(apiKey: string): Interceptor {
  return (next) => (req) => {
    req.header.set("Authorization", `Bearer ${apiKey}`);
    return next(req);
  };
}

export function environmentInterceptor(environment: string | (() => string)): Interceptor {
  return (next) => (req) => {
    req.header.set("OneRouter-Environment", typeof environment === "function" ? environment() : environment);
    return next(req);
  };
}

/**
 * Gives every mutating call an Idempotency-Key unless the caller set one.
 * It must run outside the retry interceptor: retries then resend the same
 * key, so the server replays the first outcome instead of acting twice.
 */
export function idempotencyInterceptor(): Interceptor {
  return (next) => (req) => {
    if (isMutatingMethod(req.method) && !req.header.has(idempotencyKeyHeader)) {
      req.header.set(idempotencyKeyHeader, crypto.randomUUID());
    }
    return next(req);
  };
}

/**
 * Retries unary calls that failed with Code.Unavailable, waiting as long as
 * the server's google.rpc.RetryInfo says or else an exponential backoff with
 * jitter. Streaming calls are not retried: their input cannot be replayed.
 */
export function retryInterceptor(options: RetryOptions): Interceptor {
  return (next) => async (req) => {
    if (req.stream) return next(req);
    for (let attempt = 1; ; attempt++) {
      try {
        return await next(req);
      } catch (err) {
        if (!(err instanceof ConnectError) || err.code !== Code.Unavailable || attempt >= options.maxAttempts) {
          throw err;
        }
        await sleep(retryDelayMs(err) ?? backoffMs(attempt, options), req.signal);
      }
    }
  };
}

// "Equal jitter": half the exponential step is fixed, half random, so
// clients that failed together do not retry together.
function backoffMs(attempt: number, { initialBackoffMs, maxBackoffMs }: RetryOptions): number {
  const step = Math.min(maxBackoffMs, initialBackoffMs * 2 ** (attempt - 1));
  return step / 2 + (Math.random() * step) / 2;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Runs every call of `transport` through `interceptors`. This lets the same
 * interceptors sit on top of any transport: the built-in ones and one the
 * caller passes in (an in-process router, a transport with its own options).
 */
export function withInterceptors(transport: Transport, interceptors: Interceptor[]): Transport {
  return {
    unary(method, signal, timeoutMs, header, input, contextValues) {
      return runUnaryCall({
        interceptors,
        signal,
        timeoutMs,
        req: { stream: false, ...requestFields(method, header, contextValues), method, message: input },
        next: (req) =>
          transport.unary(req.method, req.signal, timeoutMs, req.header, req.message, req.contextValues),
      });
    },
    stream(method, signal, timeoutMs, header, input, contextValues) {
      return runStreamingCall({
        interceptors,
        signal,
        timeoutMs,
        req: { stream: true, ...requestFields(method, header, contextValues), method, message: input },
        next: (req) =>
          transport.stream(req.method, req.signal, timeoutMs, req.header, req.message, req.contextValues),
      });
    },
  };
}

// What the interceptors see of a call, the same for unary and streaming ones.
function requestFields(method: DescMethod, header: HeadersInit | undefined, contextValues: ContextValues | undefined) {
  return {
    service: method.parent,
    requestMethod: "POST",
    url: createMethodUrl("/", method),
    header: new Headers(header),
    contextValues: contextValues ?? createContextValues(),
  };
}
