export {
  createOneRouterClient,
  type ConsoleEnvironment,
  type OneRouterClient,
  type OneRouterClientOptions,
  type Protocol,
} from "./client";
export { isMutatingMethod, type RetryOptions } from "./interceptors";
export { errorInfo } from "./errors";
export { apiKeyScopes, heldScopes, requiredScope, scopeAreas } from "./scopes";
export {
  verifyWebhook,
  WebhookVerificationError,
  type VerifyWebhookOptions,
  type WebhookHeaders,
} from "./webhooks";
// Callers need these to inspect errors; re-exported so one import suffices.
export { Code, ConnectError } from "@connectrpc/connect";
