import { ConnectError } from "@connectrpc/connect";
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
