import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { forbiddenDestinationCode } from "@onerouter/core";
import { ProviderOutbound, type ProviderTransport } from "./provider-outbound";

// One GET through a transport's agent: the status, or the error's code.
function get(transport: ProviderTransport, url: string): Promise<number | string> {
  return new Promise((resolve) => {
    const request = http.get(url, { agent: transport.agents.http }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

describe("ProviderOutbound", () => {
  let server: http.Server;
  let url: string;
  let requests = 0;

  beforeAll(async () => {
    server = http.createServer((_req, res) => {
      requests += 1;
      res.end("ok");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("allows base URLs only from the listed origins", () => {
    const outbound = new ProviderOutbound({ baseUrls: ["https://proxy.example.com"], allowedCidrs: [] });
    expect(outbound.urlRefusal("https://proxy.example.com/v1")).toBeUndefined();
    expect(outbound.urlRefusal("https://proxy.example.com:8443")).toMatch(/^may not point at https:\/\/proxy.example.com:8443/);
    expect(outbound.urlRefusal("http://169.254.169.254/latest")).toMatch(/ONEROUTER_PROVIDER_BASE_URLS/);
    expect(outbound.urlRefusal("file:///etc/passwd")).toBe("must be an http:// or https:// URL");
    expect(outbound.urlRefusal("nowhere")).toBe("is not a URL");
    outbound.allowBaseUrls("http://127.0.0.1:9999/anything");
    expect(outbound.urlRefusal("http://127.0.0.1:9999")).toBeUndefined();
  });

  it("holds every URL setting to the same origins, and drops a stored webhook_url no longer allowed", () => {
    const outbound = new ProviderOutbound({ baseUrls: ["https://hooks.example.com"], allowedCidrs: [] });
    expect(outbound.settingsRefusal({ base_url: "https://hooks.example.com", webhook_url: "https://hooks.example.com/in" })).toBeUndefined();
    expect(outbound.settingsRefusal({ webhook_url: "http://127.0.0.1:9999/in" })).toMatchObject({
      key: "webhook_url",
      reason: expect.stringMatching(/^may not point at http:\/\/127.0.0.1:9999/),
    });
    expect(outbound.settingsRefusal({ base_url: "http://10.0.0.5", webhook_url: "http://10.0.0.5" })).toMatchObject({ key: "base_url" });

    const stored = { base_url: "http://10.0.0.5", webhook_url: "http://10.0.0.5/in", failure_rate: "0" };
    expect(outbound.usableSettings(stored)).toEqual({ base_url: "http://10.0.0.5", failure_rate: "0" });
    const allowed = { webhook_url: "https://hooks.example.com/in" };
    expect(outbound.usableSettings(allowed)).toEqual(allowed);
  });

  it("refuses a loopback address at connect time, by address or by name, and records why", async () => {
    const outbound = new ProviderOutbound({ baseUrls: [url, url.replace("127.0.0.1", "localhost")], allowedCidrs: [] });
    for (const target of [url, url.replace("127.0.0.1", "localhost")]) {
      const transport = outbound.transport({ base_url: target }, { base_url: target });
      expect(await get(transport, target)).toBe(forbiddenDestinationCode);
      expect(transport.refusal()).toMatch(/a loopback address$/);
      expect(transport.override).toBe(true);
    }
    expect(requests).toBe(0);
  });

  it("refuses every connection of an account whose base_url is no longer allowed", async () => {
    const transport = new ProviderOutbound({ baseUrls: [], allowedCidrs: ["127.0.0.0/8"] }).transport({ base_url: url }, { base_url: url });
    expect(transport.blocked).toMatch(/^settings.base_url may not point at/);
    expect(await get(transport, url)).toBe(forbiddenDestinationCode);
    expect(requests).toBe(0);
  });

  it("lets the engine's own target (the built-in sandbox) through, and allow-listed ranges", async () => {
    const strict = new ProviderOutbound({ baseUrls: [], allowedCidrs: [] });
    const builtIn = strict.transport({}, { base_url: url });
    expect(builtIn.override).toBe(false);
    expect(await get(builtIn, url)).toBe(200);
    const allowed = new ProviderOutbound({ baseUrls: [url], allowedCidrs: ["127.0.0.0/8"] }).transport({ base_url: url }, { base_url: url });
    expect(await get(allowed, url)).toBe(200);
    expect(requests).toBe(2);
  });
});
