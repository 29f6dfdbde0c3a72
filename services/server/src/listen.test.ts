import { spawn } from "node:child_process";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { createOneRouterClient } from "@onerouter/client";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { cliPath, startTestOneRouter, type TestOneRouter } from "../test/index";
import { freePort } from "../../../test/infra";
import { listen } from "./listen";

// `onerouter listen` as a newcomer runs it: a real CLI process streaming a
// real server's events and forwarding them to a receiver on this machine,
// which verifies them with the standardwebhooks library and the secret the
// CLI printed.

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

let app: TestOneRouter;
let apiKey: string;
const received: Received[] = [];
const receiver = createServer((req, res) => {
  let body = "";
  req.on("data", (chunk: Buffer) => (body += chunk.toString()));
  req.on("end", () => {
    received.push({ headers: req.headers, body });
    res.writeHead(202).end();
  });
});
let receiverUrl: string;

beforeAll(async () => {
  app = await startTestOneRouter();
  apiKey = (await app.createKey()).secret;
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
}, 120_000);
afterAll(async () => {
  receiver.close();
  await app?.close();
});

describe("onerouter listen", () => {
  it("forwards a payment's events to the local URL, signed with the secret it printed", async () => {
    const cli = spawn(
      process.execPath,
      [cliPath, "listen", "--forward-to", receiverUrl, "--events", "payment.*", "--url", app.baseUrl],
      { env: { ...process.env, ONEROUTER_API_KEY: apiKey }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    cli.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    cli.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => cli.once("exit", resolve));
    try {
      await vi.waitFor(() => expect(stderr).toContain("Ready."), { timeout: 90_000, interval: 50 });
      const secret = /Webhook signing secret: (whsec_\S+)/.exec(stderr)?.[1];
      expect(secret).toBeDefined();

      const onerouter = createOneRouterClient({ baseUrl: app.baseUrl, apiKey });
      const { payment } = await onerouter.payments.createPayment({ amount: 1000n, currency: "USD" });
      await vi.waitFor(() => expect(received.some((r) => r.body.includes('"payment.succeeded"'))).toBe(true), {
        timeout: 20_000,
        interval: 50,
      });

      const verifier = new Webhook(secret!);
      const events = received.map((r) => verifier.verify(r.body, r.headers as Record<string, string>) as {
        id: string;
        type: string;
        payment?: { payment?: { id?: string } };
      });
      expect(events.every((e) => e.type.startsWith("payment."))).toBe(true);
      const succeeded = events.find((e) => e.type === "payment.succeeded")!;
      expect(succeeded.payment?.payment?.id).toBe(payment!.id);
      expect(received[0]!.headers["webhook-id"]).toBe(events[0]!.id);
      await vi.waitFor(() => expect(stdout).toMatch(new RegExp(`payment\\.succeeded\\s+${succeeded.id}\\s+-> 202`)));
      expect(() => new Webhook(`whsec_${Buffer.alloc(24, 1).toString("base64")}`).verify(received[0]!.body, received[0]!.headers as Record<string, string>)).toThrow();
    } finally {
      cli.kill("SIGINT");
    }
    expect(await exited).toBe(0);
  }, 150_000);

  it("prints each event as a line of JSON with --print-json, only the types asked for", async () => {
    const lines: string[] = [];
    const stop = new AbortController();
    const notes: string[] = [];
    const listening = listen(["--print-json", "--events", "refund.*,payment.succeeded", "--url", app.baseUrl, "--api-key", apiKey], {
      env: {},
      out: (line) => lines.push(line),
      err: (line) => notes.push(line),
      signal: stop.signal,
    });
    await vi.waitFor(() => expect(notes.join("\n")).toContain("Ready."), { timeout: 10_000, interval: 20 });
    const onerouter = createOneRouterClient({ baseUrl: app.baseUrl, apiKey });
    const { payment } = await onerouter.payments.createPayment({ amount: 700n, currency: "USD" });
    await onerouter.payments.refundPayment({ paymentId: payment!.id, amount: 200n });
    await vi.waitFor(() => expect(lines, notes.join("\n")).toHaveLength(2), { timeout: 20_000, interval: 20 });
    stop.abort();
    expect(await listening).toBe(0);
    const printed = lines.map((line) => JSON.parse(line) as { type: string; tenantId: string });
    expect(printed.map((e) => e.type)).toEqual(["payment.succeeded", "refund.succeeded"]);
    expect(printed[0]!.tenantId).toBe(app.defaultTenantId);
  }, 60_000);

  it("says so, and keeps trying, while no server answers at the URL", async () => {
    const notes: string[] = [];
    const stop = new AbortController();
    const url = `http://127.0.0.1:${await freePort()}`;
    const listening = listen(["--print-json", "--url", url, "--api-key", apiKey], { env: {}, out: () => {}, err: (line) => notes.push(line), signal: stop.signal });
    await vi.waitFor(() => expect(notes.length).toBeGreaterThan(1), { timeout: 10_000, interval: 20 });
    stop.abort();
    expect(await listening).toBe(0);
    expect(notes[0]).toMatch(new RegExp(`^Cannot reach OneRouter at ${url} \\(.+\\); is it running \\(npm start, or --url\\)\\? Trying again in [\\d.]+ s\\.$`));
  });

  it("refuses to start without a destination or an API key, saying how", async () => {
    const io = { env: {}, out: () => {}, err: () => {}, signal: new AbortController().signal };
    await expect(listen(["--url", app.baseUrl, "--api-key", apiKey], io)).rejects.toThrow("--forward-to URL or --print-json");
    await expect(listen(["--print-json"], io)).rejects.toThrow("ONEROUTER_API_KEY");
  });
});
