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
import { errorInfo, retryDelayMs } from "./errors";

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

// Services whose mutating methods honour Idempotency-Key: the server
// replays the first outcome of a key, so resending after a lost answer is safe.
const idempotencyKeyServices = new Set(["onerouter.payments.v1.PaymentService", "onerouter.messaging.v1.MessagingService"]);

/**
 * Whether a call of `method` may be sent again when its answer was lost (the
 * server may have acted on it): reads, methods declared IDEMPOTENT, and
 * writes whose Idempotency-Key the server honours (payments and messages).
 */
export function isResendable(method: DescMethod): boolean {
  return (
    !isMutatingMethod(method) ||
    method.idempotency === MethodOptions_IdempotencyLevel.IDEMPOTENT ||
    idempotencyKeyServices.has(method.parent.typeName)
  );
}

/**
 * Whether a failed call is worth repeating as it was. Answers from OneRouter
 * say so themselves: UNAVAILABLE (nothing was done), RATE_LIMITED (after the
 * delay it names) and IDEMPOTENCY_KEY_IN_USE (the first try is still
 * running). A failure without an answer (a reset connection, a proxy's 502)
 * is retried only for calls that are safe to resend.
 */
export function isTransientError(err: unknown, method: DescMethod): err is ConnectError {
  if (!(err instanceof ConnectError)) return false;
  const reason = errorInfo(err)?.reason;
  if (reason !== undefined) {
    return (
      err.code === Code.Unavailable ||
      (err.code === Code.ResourceExhausted && reason === "RATE_LIMITED") ||
      (err.code === Code.Aborted && reason === "IDEMPOTENCY_KEY_IN_USE")
    );
  }
  // fetch rejects with a TypeError when the connection fails; Node's http2 gives UNAVAILABLE.
  const connectionFailed = err.code === Code.Unavailable || (err.code === Code.Unknown && err.cause instanceof TypeError);
  return connectionFailed && isResendable(method);
}

/**
 * Retries unary calls that failed transiently (isTransientError), waiting as
 * long as the server's google.rpc.RetryInfo says or else an exponential
 * backoff with jitter. Every try carries the same Idempotency-Key.
 * Streaming calls are not retried here: their input cannot be replayed
 * (the event stream resumes by itself, see events.ts).
 */
export function retryInterceptor(options: RetryOptions): Interceptor {
  return (next) => async (req) => {
    if (req.stream) return next(req);
    for (let attempt = 1; ; attempt++) {
      try {
        return await next(req);
      } catch (err) {
        if (!isTransientError(err, req.method) || attempt >= options.maxAttempts) throw err;
        await sleep(retryDelayMs(err) ?? backoffMs(attempt, options), req.signal);
      }
    }
  };
}

// "Equal jitter": half the exponential step is fixed, half random, so
// clients that failed together do not retry together.
export function backoffMs(attempt: number, { initialBackoffMs, maxBackoffMs }: RetryOptions): number {
  const step = Math.min(maxBackoffMs, initialBackoffMs * 2 ** (attempt - 1));
  return step / 2 + (Math.random() * step) / 2;
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
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
