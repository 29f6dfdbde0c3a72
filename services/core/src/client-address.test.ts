import { describe, expect, it } from "vitest";
import { clientAddressResolver, requestOriginResolver } from "./client-address";

describe("clientAddressResolver", () => {
  it("is the peer when no proxy is trusted, whatever X-Forwarded-For says", () => {
    const resolve = clientAddressResolver([]);
    expect(resolve("203.0.113.5", "198.51.100.1")).toBe("203.0.113.5");
    expect(resolve("::ffff:127.0.0.1", undefined)).toBe("127.0.0.1");
  });

  it("walks X-Forwarded-For from the right past trusted proxies only", () => {
    const resolve = clientAddressResolver(["10.0.0.0/8", "fd00::/8", "192.0.2.1"]);
    expect(resolve("10.1.1.1", "198.51.100.1")).toBe("198.51.100.1");
    expect(resolve("10.1.1.1", "6.6.6.6, 198.51.100.1, 10.2.2.2")).toBe("198.51.100.1");
    expect(resolve("::ffff:192.0.2.1", ["198.51.100.9", "10.0.0.3"])).toBe("198.51.100.9");
    expect(resolve("fd00::1", "2001:db8::5")).toBe("2001:db8::5");
    // A peer that is not a proxy speaks for itself.
    expect(resolve("203.0.113.5", "198.51.100.1")).toBe("203.0.113.5");
    // Garbage stops the walk at the last proxy that added it.
    expect(resolve("10.1.1.1", "198.51.100.1, not-an-ip")).toBe("10.1.1.1");
    expect(resolve("10.1.1.1", "10.3.3.3")).toBe("10.3.3.3");
  });
});

describe("requestOriginResolver", () => {
  it("is plain HTTP on the Host header unless a trusted proxy says otherwise", () => {
    const direct = requestOriginResolver([]);
    expect(direct("203.0.113.5", { host: "localhost:8080", "x-forwarded-proto": "https", "x-forwarded-host": "evil.example" })).toEqual({
      origin: "http://localhost:8080",
      secure: false,
    });
    expect(direct("::1", { ":authority": "[::1]:8080" })).toEqual({ origin: "http://[::1]:8080", secure: false });
    expect(direct("::1", {})).toEqual({ origin: "", secure: false });

    const proxied = requestOriginResolver(["10.0.0.0/8"]);
    const headers = { host: "onerouter:8080", "x-forwarded-proto": "https, http", "x-forwarded-host": "api.example.com" };
    expect(proxied("::ffff:10.1.1.1", headers)).toEqual({ origin: "https://api.example.com", secure: true });
    expect(proxied("10.1.1.1", { host: "onerouter:8080" })).toEqual({ origin: "http://onerouter:8080", secure: false });
    // A peer that is not a proxy cannot claim HTTPS.
    expect(proxied("203.0.113.5", headers)).toEqual({ origin: "http://onerouter:8080", secure: false });
  });
});
