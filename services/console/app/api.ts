import { createOneRouterClient, type ConsoleEnvironment, type OneRouterClient } from "@onerouter/client";

// The console calls the public API on its own origin with the member's
// session cookie (set HttpOnly by SignIn) and no API key. Each environment
// has its own client, so cached answers of test never show under live.
export const environments: readonly ConsoleEnvironment[] = ["test", "live"];

function clientFor(environment: ConsoleEnvironment): OneRouterClient {
  return createOneRouterClient({
    baseUrl: window.location.origin,
    environment,
    // A person is waiting: one retry at most, quickly.
    retry: { maxAttempts: 2, initialBackoffMs: 200, maxBackoffMs: 500 },
  });
}

export const clients: Record<ConsoleEnvironment, OneRouterClient> = {
  test: clientFor("test"),
  live: clientFor("live"),
};
