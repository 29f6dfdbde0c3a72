import type { TestProject } from "vitest/node";
import { buildCli } from "../services/server/build/cli";
import { startNats, startPostgres, type StartedServer } from "./infra";

// One Postgres and one NATS for the whole run. Tests read their URLs through
// inject("postgresUrl") / inject("natsUrl"). On CI both must exist; locally a
// missing server skips the tests that need it, with a message saying why.
declare module "vitest" {
  export interface ProvidedContext {
    postgresUrl: string;
    natsUrl: string;
  }
}

const started: StartedServer[] = [];

export async function setup(project: TestProject) {
  // Tests run the `onerouter` CLI as users do, from its build: of the sources under test.
  await buildCli();
  const postgresUrl = process.env.ONEROUTER_TEST_DATABASE_URL ?? (await startOwnPostgres());
  const natsUrl = process.env.ONEROUTER_TEST_NATS_URL ?? (await startOwnNats());
  if (process.env.CI && (!postgresUrl || !natsUrl)) {
    throw new Error("CI needs a Postgres server and nats-server: run .ci/run, which installs them");
  }
  project.provide("postgresUrl", postgresUrl ?? "");
  project.provide("natsUrl", natsUrl ?? "");
}

async function startOwnPostgres() {
  const pg = await startPostgres();
  if (pg) started.push(pg);
  return pg?.url;
}

async function startOwnNats() {
  const nats = await startNats();
  if (nats) started.push(nats);
  return nats?.url;
}

export async function teardown() {
  await Promise.all(started.map((s) => s.stop()));
}
