import { ConnectError, type Interceptor } from "@connectrpc/connect";
import {
  ErrorInfoSchema,
  RetryInfoSchema,
  type ErrorInfo,
} from "./gen/google/rpc/error_details_pb";

/**
 * The google.rpc.ErrorInfo detail of an error from OneRouter: `reason`
 * (e.g. `IDEMPOTENCY_KEY_REUSED`), `domain` (`onerouter.dev`) and `metadata`
 * with the dynamic parts. Undefined for anything that is not a ConnectError
 * or carries no ErrorInfo.
 */
export function errorInfo(err: unknown): ErrorInfo | undefined {
  return err instanceof ConnectError ? err.findDetails(ErrorInfoSchema)[0] : undefined;
}

/** The delay the server asked for with a google.rpc.RetryInfo detail, in milliseconds. */
export function retryDelayMs(err: ConnectError): number | undefined {
  const delay = err.findDetails(RetryInfoSchema)[0]?.retryDelay;
  return delay ? Number(delay.seconds) * 1000 + delay.nanos / 1_000_000 : undefined;
}

/** The header a request's id comes back in, when the server or a proxy in front of it sets one. */
export const requestIdHeader = "x-request-id";

/**
 * An error OneRouter answered: a ConnectError (its `code`, `rawMessage` and
 * `metadata`, the response headers and trailers, are all there) with the
 * parts of its google.rpc.ErrorInfo at hand.
 */
export interface OneRouterError extends ConnectError {
  /** UPPER_SNAKE, e.g. "IDEMPOTENCY_KEY_REUSED" or "PROVIDER_DECLINED". */
  readonly reason: string;
  /** "onerouter.dev". */
  readonly domain: string;
  /** ErrorInfo's metadata: the dynamic parts, e.g. { field: "amount" }. */
  readonly errorMetadata: Readonly<Record<string, string>>;
  /** The request's id, to quote when asking about it; undefined when no one set one. */
  readonly requestId: string | undefined;
}

/**
 * Whether `err` is an error OneRouter answered (a ConnectError carrying a
 * google.rpc.ErrorInfo) and, given a `reason`, one with that reason:
 *
 *   if (isOneRouterError(err, "IDEMPOTENCY_KEY_REUSED")) console.log(err.errorMetadata, err.requestId);
 */
export function isOneRouterError(err: unknown, reason?: string): err is OneRouterError {
  const info = errorInfo(err);
  if (!info || (reason !== undefined && info.reason !== reason)) return false;
  asOneRouterError(err as ConnectError, info);
  return true;
}

// Gives the error its ErrorInfo's parts as properties, once.
function asOneRouterError(err: ConnectError, info: ErrorInfo): OneRouterError {
  if (!("reason" in err)) {
    Object.defineProperties(err, {
      reason: { value: info.reason, enumerable: true },
      domain: { value: info.domain, enumerable: true },
      errorMetadata: { value: Object.freeze({ ...info.metadata }), enumerable: true },
      requestId: { value: err.metadata.get(requestIdHeader) ?? undefined, enumerable: true },
    });
  }
  return err as OneRouterError;
}

/**
 * Gives every error OneRouter answers its ErrorInfo's parts as properties
 * (see OneRouterError), for unary calls and streams alike.
 */
export function oneRouterErrorInterceptor(): Interceptor {
  const decorate = (err: unknown) => {
    const info = errorInfo(err);
    if (info) asOneRouterError(err as ConnectError, info);
    return err;
  };
  return (next) => async (req) => {
    try {
      const res = await next(req);
      if (!res.stream) return res;
      const messages = res.message;
      return {
        ...res,
        message: (async function* () {
          try {
            yield* messages;
          } catch (err) {
            throw decorate(err);
          }
        })(),
      };
    } catch (err) {
      throw decorate(err);
    }
  };
}
