import { describe, expect, it } from "vitest";
import { maskSecret, newDataKey, open, seal } from "./crypto";

const secret = Buffer.from(JSON.stringify({ secret_key: "sk_test_51AbCdEfGhIjKlMnOp4242" }));

// Flips one bit of one base64url part of a sealed value.
function tamper(sealed: string, part: 1 | 2 | 3): string {
  const parts = sealed.split(".");
  const bytes = Buffer.from(parts[part]!, "base64url");
  bytes[0]! ^= 0x01;
  parts[part] = bytes.toString("base64url");
  return parts.join(".");
}

describe("envelope encryption", () => {
  it("opens what it sealed, and seals the same plaintext differently each time", () => {
    const key = newDataKey();
    const first = seal(key, secret, "provider-account:pa_1");
    const second = seal(key, secret, "provider-account:pa_1");
    expect(first).not.toBe(second);
    expect(first).toMatch(/^v1\./);
    expect(first).not.toContain("sk_test_51AbCdEfGhIjKlMnOp4242");
    expect(open(key, first, "provider-account:pa_1")).toEqual(secret);
    expect(open(key, second, "provider-account:pa_1")).toEqual(secret);
  });

  it("refuses a tampered iv, tag or ciphertext", () => {
    const key = newDataKey();
    const sealed = seal(key, secret, "provider-account:pa_1");
    for (const part of [1, 2, 3] as const) {
      expect(() => open(key, tamper(sealed, part), "provider-account:pa_1"), `part ${part}`).toThrow();
    }
    expect(() => open(key, "v2" + sealed.slice(2), "provider-account:pa_1")).toThrow("not a sealed value");
    expect(() => open(key, "garbage", "provider-account:pa_1")).toThrow("not a sealed value");
  });

  it("refuses to open a value under another context", () => {
    const key = newDataKey();
    const sealed = seal(key, secret, "provider-account:pa_1");
    // Credentials copied onto another account's row do not decrypt there.
    expect(() => open(key, sealed, "provider-account:pa_2")).toThrow();
  });

  it("keeps one tenant's credentials closed to another tenant's data key", () => {
    const master = newDataKey();
    const tenantA = newDataKey();
    const tenantB = newDataKey();
    const wrappedA = seal(master, tenantA, "tenant-data-key:ten_a");
    const credentialsA = seal(tenantA, secret, "provider-account:pa_1");

    expect(() => open(tenantB, credentialsA, "provider-account:pa_1")).toThrow();
    // Tenant A's wrapped key cannot be unwrapped as tenant B's either.
    expect(() => open(master, wrappedA, "tenant-data-key:ten_b")).toThrow();
    expect(open(open(master, wrappedA, "tenant-data-key:ten_a"), credentialsA, "provider-account:pa_1")).toEqual(secret);
    // Nor by a different master key.
    expect(() => open(newDataKey(), wrappedA, "tenant-data-key:ten_a")).toThrow();
  });

  it("masks secrets down to a recognisable hint", () => {
    expect(maskSecret("short")).toBe("••••");
    const hint = maskSecret("sk_test_51AbCdEfGhIjKlMnOp4242");
    expect(hint).toBe("sk_test…4242");
    expect(hint).not.toContain("AbCdEf");
  });
});
