import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { ErrorInfoSchema } from "@onerouter/client/gen/google/rpc/error_details_pb";
import { PaymentService } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { launchChromium } from "@onerouter/console/testing";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// @onerouter/client as a user gets it: built, packed with npm pack,
// unpacked into a fresh folder (its dependencies linked from this
// workspace's node_modules, so nothing is downloaded), then imported from
// Node and bundled for a browser with esbuild and run in Chromium, against a
// small Connect server that pages through seven payments three at a time.

const root = path.resolve(import.meta.dirname, "..");
const run = promisify(execFile);
const seven = Array.from({ length: 7 }, (_, i) => `pay_${i + 1}`);

let folder: string;
let app: string;
let server: Server;
let baseUrl: string;
let browserBundle = "";

const handler = connectNodeAdapter({
  routes(router) {
    router.service(PaymentService, {
      listPayments(req) {
        const start = req.pageToken ? Number(req.pageToken) : 0;
        const end = Math.min(start + req.pageSize, seven.length);
        return {
          payments: seven.slice(start, end).map((id) => ({ id })),
          nextPageToken: end < seven.length ? String(end) : "",
        };
      },
      createPayment() {
        throw new ConnectError("Idempotency-Key k was already used with different parameters", Code.InvalidArgument, undefined, [
          { desc: ErrorInfoSchema, value: { reason: "IDEMPOTENCY_KEY_REUSED", domain: "onerouter.dev", metadata: { idempotency_key: "k" } } },
        ]);
      },
    });
  },
});

beforeAll(async () => {
  folder = mkdtempSync(path.join(os.tmpdir(), "onerouter-client-package-"));
  await run(process.execPath, [path.join(root, "clients/ts/build.mjs")]);
  const { stdout } = await run("npm", ["pack", path.join(root, "clients/ts/dist"), "--pack-destination", folder, "--json", "--offline"]);
  const { filename } = (JSON.parse(stdout) as { filename: string }[])[0]!;
  app = path.join(folder, "app");
  const installed = path.join(app, "node_modules/@onerouter/client");
  mkdirSync(installed, { recursive: true });
  await run("tar", ["-xzf", path.join(folder, filename), "-C", installed, "--strip-components=1"]);
  for (const scope of ["@bufbuild", "@connectrpc"]) symlinkSync(path.join(root, "node_modules", scope), path.join(app, "node_modules", scope));

  server = createServer((req, res) => {
    if (req.url === "/") return void res.writeHead(200, { "content-type": "text/html" }).end('<script type="module" src="/bundle.js"></script>');
    if (req.url === "/bundle.js") return void res.writeHead(200, { "content-type": "text/javascript" }).end(browserBundle);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 240_000);
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  rmSync(folder, { recursive: true, force: true });
});

// What both the Node script and the browser bundle do with the package.
const usage = `
import { createOneRouterClient, isOneRouterError } from "@onerouter/client";
export async function use(baseUrl) {
  const onerouter = createOneRouterClient({ baseUrl, apiKey: "or_test_package" });
  const ids = [];
  for await (const payment of onerouter.payments.list({ pageSize: 3 })) ids.push(payment.id);
  const reason = await onerouter.payments.createPayment({ amount: 1n, currency: "USD" }).then(
    () => "none",
    (err) => (isOneRouterError(err, "IDEMPOTENCY_KEY_REUSED") ? err.reason + " " + err.errorMetadata.idempotency_key : String(err)),
  );
  return { ids, reason };
}
`;

describe("the packed @onerouter/client", () => {
  it("is JavaScript with type declarations, ESM, free of side effects, and not private", async () => {
    const manifest = (await import(path.join(app, "node_modules/@onerouter/client/package.json"), { with: { type: "json" } })).default;
    expect(manifest).toMatchObject({ type: "module", sideEffects: false, exports: { ".": { types: "./index.d.ts", default: "./index.js" } } });
    expect(manifest.private).toBeUndefined();
    const { stdout } = await run("find", [path.join(app, "node_modules/@onerouter/client"), "-name", "*.ts", "-not", "-name", "*.d.ts"]);
    expect(stdout).toBe("");
  });

  it("pages through three pages and tells errors by reason, from Node", async () => {
    writeFileSync(path.join(app, "usage.mjs"), usage);
    writeFileSync(
      path.join(app, "main.mjs"),
      `import { use } from "./usage.mjs";\nimport { PaymentSchema } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";\n` +
        `console.log(JSON.stringify({ ...(await use(process.argv[2])), schema: PaymentSchema.typeName }));\n`,
    );
    const { stdout } = await run(process.execPath, ["main.mjs", baseUrl], { cwd: app });
    expect(JSON.parse(stdout)).toEqual({ ids: seven, reason: "IDEMPOTENCY_KEY_REUSED k", schema: "onerouter.payments.v1.Payment" });
  });

  it("bundles for a browser without Node's modules, drops what is not imported, and runs in Chromium", async () => {
    writeFileSync(path.join(app, "browser.mjs"), `import { use } from "./usage.mjs";\nwindow.result = use(location.origin);\n`);
    const bundled = await build({ entryPoints: [path.join(app, "browser.mjs")], bundle: true, platform: "browser", format: "esm", write: false, metafile: true });
    browserBundle = bundled.outputFiles[0]!.text;
    const inputs = Object.keys(bundled.metafile.inputs);
    expect(inputs.filter((input) => /connect-node|http2/.test(input))).toEqual([]);

    // Only the webhook verifier: the client, its interceptors and the admin services stay out
    // (the Event's own descriptors, payments' and messaging's messages among them, are needed).
    writeFileSync(path.join(app, "verify-only.mjs"), `import { verifyWebhook } from "@onerouter/client";\nwindow.verify = verifyWebhook;\n`);
    const verifyOnly = await build({ entryPoints: [path.join(app, "verify-only.mjs")], bundle: true, platform: "browser", format: "esm", write: false, metafile: true, minify: true });
    const kept = Object.keys(Object.values(verifyOnly.metafile.outputs)[0]!.inputs);
    expect(kept.some((input) => input.includes("webhooks.js"))).toBe(true);
    expect(kept.filter((input) => /admin\/v1|webhooks_pb|\/client\.js|interceptors\.js/.test(input))).toEqual([]);

    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(baseUrl);
      const result = await page.evaluate(() => (window as unknown as { result: Promise<unknown> }).result);
      expect(result).toEqual({ ids: seven, reason: "IDEMPOTENCY_KEY_REUSED k" });
    } finally {
      await browser.close();
    }
  }, 60_000);
});
