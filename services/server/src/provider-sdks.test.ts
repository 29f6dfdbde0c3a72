import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const recordHook = pathToFileURL(path.join(import.meta.dirname, "../test/record-resolved.mjs")).href;
const sdkPackages = ["stripe", "razorpay", "twilio", "mailgun.js", "@sendgrid/client", "@sendgrid/mail", "@vonage/sms", "@vonage/accounts", "@vonage/pricing"];

const folder = mkdtempSync(path.join(os.tmpdir(), "onerouter-sdks-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

// What a process resolves while it imports `modules`, in a node of its own.
function resolvedWhileImporting(modules: string[]): string[] {
  const file = path.join(folder, `resolved-${Math.random().toString(36).slice(2)}.txt`);
  const script = [
    `import { register } from "node:module";`,
    `register(${JSON.stringify(recordHook)});`,
    ...modules.map((module) => `await import(${JSON.stringify(module)});`),
  ].join("\n");
  execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    cwd: import.meta.dirname,
    env: { ...process.env, RECORD_RESOLVED_FILE: file },
    stdio: ["ignore", "ignore", "inherit"],
  });
  return readFileSync(file, "utf8").split("\n").filter(Boolean);
}

// A package's entry module as an import from here resolves it (the whole
// SDK; a module of its own, such as Twilio's webhook validator, may load alone).
const entryOf = (name: string) => import.meta.resolve(name);
const importedSdks = (urls: string[]) => sdkPackages.filter((name) => urls.includes(entryOf(name)));

// Each provider's SDK is imported by its first call (sdkLoadedOnFirstCall),
// so a server that never calls a provider never holds its SDK.
describe("provider SDKs", () => {
  it("are not imported by loading the server", () => {
    const resolved = resolvedWhileImporting(["@onerouter/server"]);
    expect(resolved).toContain(entryOf("@connectrpc/connect"));
    expect(importedSdks(resolved)).toEqual([]);
  });

  it("are seen by this check when imported", () => {
    expect(importedSdks(resolvedWhileImporting(["stripe", "@vonage/sms"]))).toEqual(["stripe", "@vonage/sms"]);
  });
});
