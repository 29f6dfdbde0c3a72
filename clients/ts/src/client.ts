import type { DescService } from "@bufbuild/protobuf";
import { createClient, type CallOptions, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { AnalyticsService } from "./gen/onerouter/admin/v1/analytics_pb";
import { ApiKeyService } from "./gen/onerouter/admin/v1/api_keys_pb";
import { AuditLogService } from "./gen/onerouter/admin/v1/audit_logs_pb";
import { ProviderAccountService } from "./gen/onerouter/admin/v1/provider_accounts_pb";
import { RoutingService } from "./gen/onerouter/admin/v1/routing_pb";
import { SessionService } from "./gen/onerouter/admin/v1/session_pb";
import { TeamService } from "./gen/onerouter/admin/v1/team_pb";
import { UsageService } from "./gen/onerouter/admin/v1/usage_pb";
import { MessagingService } from "./gen/onerouter/messaging/v1/messaging_pb";
import { PaymentService } from "./gen/onerouter/payments/v1/payments_pb";
import { WebhookService } from "./gen/onerouter/webhooks/v1/webhooks_pb";
import { oneRouterErrorInterceptor } from "./errors";
import { fetchEndingOnAbort } from "./fetch-ending-on-abort";
import { streamEvents, type EventStreamOptions } from "./events";
import type { Event } from "./gen/onerouter/events/v1/events_pb";
import type { ListPaymentsRequest, ListPaymentsResponse } from "./gen/onerouter/payments/v1/payments_pb";
import type { ListMessagesRequest, ListMessagesResponse } from "./gen/onerouter/messaging/v1/messaging_pb";
import {
  authInterceptor,
  defaultRetryOptions,
  environmentInterceptor,
  idempotencyInterceptor,
  retryInterceptor,
  withInterceptors,
  type RetryOptions,
} from "./interceptors";
import { withListing, type ListCall, type ListingClient } from "./pagination";

/**
 * "connect" and "grpc-web" run on fetch (browsers and Node); "grpc" needs
 * HTTP/2 trailers, which only Node's http2 module gives, so it is Node only.
 */
export type Protocol = "connect" | "grpc" | "grpc-web";

export type ConsoleEnvironment = "test" | "live";

interface CommonOptions {
  /**
   * Sent as `Authorization: Bearer <apiKey>` on every call. Leave it out in a
   * browser signed in to the console: the session cookie identifies the caller.
   */
  apiKey?: string;
  /**
   * The environment of a session's calls, sent as `OneRouter-Environment`;
   * a function is read on every call, so a switch applies to the next one.
   * An API key fixes its own environment, so this is for sessions only.
   */
  environment?: ConsoleEnvironment | (() => ConsoleEnvironment);
  /** Retries transient failures (see isTransientError); defaults to 3 attempts, 200 ms to 5 s backoff. */
  retry?: Partial<RetryOptions>;
}

export type OneRouterClientOptions = CommonOptions &
  (
    | {
        /** e.g. "https://api.onerouter.dev" or "http://localhost:8080" (gRPC uses cleartext HTTP/2 there). */
        baseUrl: string;
        /** Defaults to "connect". */
        protocol?: Protocol;
        /** A fetch to use instead of globalThis.fetch ("connect" and "grpc-web" only). */
        fetch?: typeof globalThis.fetch;
      }
    | {
        /** A transport of your own; auth, idempotency keys and retries are added on top of it. */
        transport: Transport;
      }
  );

type MessageInit<T> = Partial<Omit<T, "$typeName" | "$unknown">>;

export interface OneRouterClient {
  payments: ListingClient<typeof PaymentService> & {
    /** Every payment that matches, page after page: `for await (const p of onerouter.payments.list({...}))`. */
    list(request?: MessageInit<ListPaymentsRequest>, options?: CallOptions): ListCall<ListPaymentsResponse>;
  };
  messaging: ListingClient<typeof MessagingService> & {
    /** Every message that matches, page after page. */
    list(request?: MessageInit<ListMessagesRequest>, options?: CallOptions): ListCall<ListMessagesResponse>;
  };
  webhooks: ListingClient<typeof WebhookService>;
  apiKeys: ListingClient<typeof ApiKeyService>;
  providerAccounts: ListingClient<typeof ProviderAccountService>;
  routing: ListingClient<typeof RoutingService>;
  sessions: ListingClient<typeof SessionService>;
  team: ListingClient<typeof TeamService>;
  usage: ListingClient<typeof UsageService>;
  analytics: ListingClient<typeof AnalyticsService>;
  auditLogs: ListingClient<typeof AuditLogService>;
  /**
   * The caller's events as they are recorded (WebhookService.StreamEvents),
   * resuming by itself after a dropped connection; see EventStreamOptions.
   */
  events(options?: EventStreamOptions): AsyncGenerator<Event, void, undefined>;
  /** The transport every client above uses, for tools that take one (e.g. TanStack Query for Connect). */
  transport: Transport;
}

export function createOneRouterClient(options: OneRouterClientOptions): OneRouterClient {
  const baseTransport = "transport" in options ? options.transport : createProtocolTransport(options);
  // The key is chosen outside the retry loop, so every attempt of a call carries the same one.
  const transport = withInterceptors(baseTransport, [
    oneRouterErrorInterceptor(),
    ...(options.apiKey === undefined ? [] : [authInterceptor(options.apiKey)]),
    ...(options.environment === undefined ? [] : [environmentInterceptor(options.environment)]),
    idempotencyInterceptor(),
    retryInterceptor({ ...defaultRetryOptions, ...options.retry }),
  ]);
  const client = <S extends DescService>(service: S) => withListing(service, createClient(service, transport));
  const payments = client(PaymentService);
  const messaging = client(MessagingService);
  const webhooks = client(WebhookService);
  return {
    payments: { ...payments, list: payments.listPayments },
    messaging: { ...messaging, list: messaging.listMessages },
    webhooks,
    apiKeys: client(ApiKeyService),
    providerAccounts: client(ProviderAccountService),
    routing: client(RoutingService),
    sessions: client(SessionService),
    team: client(TeamService),
    usage: client(UsageService),
    analytics: client(AnalyticsService),
    auditLogs: client(AuditLogService),
    events: (eventOptions) => streamEvents(webhooks, eventOptions),
    transport,
  };
}

function createProtocolTransport(options: {
  baseUrl: string;
  protocol?: Protocol;
  fetch?: typeof globalThis.fetch;
}): Transport {
  const { baseUrl } = options;
  const fetch = fetchEndingOnAbort(options.fetch);
  switch (options.protocol ?? "connect") {
    case "connect":
      return createConnectTransport({ baseUrl, fetch, useBinaryFormat: true });
    case "grpc-web":
      return createGrpcWebTransport({ baseUrl, fetch, useBinaryFormat: true });
    case "grpc":
      return createNodeGrpcTransport(baseUrl);
  }
}

type ConnectNode = typeof import("@connectrpc/connect-node");

/**
 * A gRPC transport over Node's http2, loaded on the first call. The module
 * name sits in a variable so that bundlers do not follow the import: browser
 * bundles never contain Node's http2, and the constructor stays synchronous.
 */
function createNodeGrpcTransport(baseUrl: string): Transport {
  const connectNode = "@connectrpc/connect-node";
  let loaded: Promise<Transport> | undefined;
  const load = () =>
    (loaded ??= (import(/* @vite-ignore */ /* webpackIgnore: true */ connectNode) as Promise<ConnectNode>).then(
      ({ createGrpcTransport }) => createGrpcTransport({ baseUrl }),
      (cause: unknown) => {
        throw new Error(
          'protocol "grpc" needs Node.js (its http2 module); in browsers use "connect" or "grpc-web"',
          { cause },
        );
      },
    ));
  return {
    async unary(method, signal, timeoutMs, header, input, contextValues) {
      return (await load()).unary(method, signal, timeoutMs, header, input, contextValues);
    },
    async stream(method, signal, timeoutMs, header, input, contextValues) {
      return (await load()).stream(method, signal, timeoutMs, header, input, contextValues);
    },
  };
}
