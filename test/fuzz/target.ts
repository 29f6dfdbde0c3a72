import { postgresAvailable } from "@onerouter/core/testing";
import { startTestOneRouter, type TestOneRouter } from "@onerouter/server/testing";
import { Wire } from "./wire";

// The product under fuzz: the whole server on a loopback port, on Postgres
// when the run has one (it is the strictest about bytes it stores), with rate
// limits out of the way and a small body limit so oversize bodies are cheap.

export const fuzzMaxRequestBytes = 65_536;

export interface FuzzTarget {
  app: TestOneRouter;
  apiKey: string;
  // Raw requests to it, bytes as the fuzz makes them.
  wire: Wire;
  close(): Promise<void>;
}

export async function startFuzzTarget(): Promise<FuzzTarget> {
  const app = await startTestOneRouter({
    engine: postgresAvailable() ? "postgres" : "pglite",
    env: {
      ONEROUTER_RATE_LIMIT_RPS: "1000000",
      ONEROUTER_RATE_LIMIT_BURST: "1000000",
      ONEROUTER_MAX_REQUEST_BYTES: String(fuzzMaxRequestBytes),
    },
  });
  const wire = new Wire(app.baseUrl);
  return {
    app,
    apiKey: (await app.createKey()).secret,
    wire,
    async close() {
      wire.close();
      await app.close();
    },
  };
}
