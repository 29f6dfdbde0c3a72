export {
  createOneRouterClient,
  type ConsoleEnvironment,
  type OneRouterClient,
  type OneRouterClientOptions,
  type Protocol,
} from "./client";
export { isMutatingMethod, isResendable, isTransientError, type RetryOptions } from "./interceptors";
export { errorInfo, isOneRouterError, requestIdHeader, type OneRouterError } from "./errors";
export { streamEvents, type EventStreamOptions } from "./events";
export type { ListCall, ListingClient, ListItem } from "./pagination";
export { apiKeyScopes, heldScopes, requiredScope, scopeAreas } from "./scopes";
export {
  verifyWebhook,
  WebhookVerificationError,
  type VerifyWebhookOptions,
  type WebhookHeaders,
} from "./webhooks";
// Callers need these to inspect errors; re-exported so one import suffices.
export { Code, ConnectError } from "@connectrpc/connect";
