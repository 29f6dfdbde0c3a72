import type { DescService } from "@bufbuild/protobuf";
import { ConnectError, createClient, createRouterTransport, type Client, type ConnectRouter, type Transport } from "@connectrpc/connect";
import { ErrorInfoSchema } from "@onerouter/client/gen/google/rpc/error_details_pb";
import { createErrorInterceptor, createLogger, type Knex } from "@onerouter/core";
import { ApiKeyAuthenticator } from "../src/authenticator";
import { CallLimits } from "../src/call-limits";
import { gatekeeperInterceptors } from "../src/interceptor";
import { TokenBucketLimiter } from "../src/rate-limiter";
import { SessionAuthenticator } from "../src/session-authenticator";

// A room's services in memory, behind the interceptors the server puts in
// front of every call (typed errors, API-key auth and scopes, plan limits),
// for tests of a service's behaviour that need no HTTP server. The server's
// rate limit is set high enough never to refuse a test; usage counts stay in
// memory.
export function inMemoryApi(knex: Knex, routes: (router: ConnectRouter) => void): {
  client<S extends DescService>(service: S, apiKey: string): Client<S>;
} {
  const unlimited = () => new TokenBucketLimiter(10_000, 10_000);
  const logger = createLogger("silent");
  const limits = new CallLimits({ knex, server: { ratePerSecond: 10_000, burst: 10_000 }, logger });
  const transport = createRouterTransport(routes, {
    router: {
      interceptors: [
        createErrorInterceptor(logger),
        ...gatekeeperInterceptors({
          authenticator: new ApiKeyAuthenticator(knex),
          sessions: new SessionAuthenticator(knex),
          limits,
          failures: unlimited(),
          logger,
        }),
      ],
    },
  });
  return { client: (service, apiKey) => createClient(service, withApiKey(transport, apiKey)) };
}

// Every call of `transport` sent with `apiKey` as its bearer token.
function withApiKey(transport: Transport, apiKey: string): Transport {
  const authorized = (header: HeadersInit | undefined) => {
    const headers = new Headers(header);
    headers.set("authorization", `Bearer ${apiKey}`);
    return headers;
  };
  return {
    unary: (method, signal, timeoutMs, header, input, contextValues) =>
      transport.unary(method, signal, timeoutMs, authorized(header), input, contextValues),
    stream: (method, signal, timeoutMs, header, input, contextValues) =>
      transport.stream(method, signal, timeoutMs, authorized(header), input, contextValues),
  };
}

// What a call that must fail answered: its code, ErrorInfo reason and
// metadata (with the offending request field, if any), and message.
export async function failure(promise: Promise<unknown>) {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  if (!err) throw new Error("expected the call to fail");
  const info = err.findDetails(ErrorInfoSchema)[0];
  return {
    code: err.code,
    reason: info?.reason,
    field: info?.metadata.field,
    metadata: info?.metadata ?? {},
    message: err.rawMessage,
  };
}
