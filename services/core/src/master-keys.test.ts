import { describe, expect, it } from "vitest";
import { newDataKey, seal } from "./crypto";
import { MasterKeyring, masterKeyId } from "./master-keys";

const secret = Buffer.from("a tenant data key");

describe("master keys", () => {
  it("names the key that sealed a value, and opens with it", () => {
    const key = newDataKey();
    const keys = new MasterKeyring(key);
    const sealed = keys.seal(secret, "tenant-data-key:ten_a");
    expect(sealed.startsWith(`${masterKeyId(key)}:v1.`)).toBe(true);
    expect(keys.isCurrent(sealed)).toBe(true);
    expect(keys.open(sealed, "tenant-data-key:ten_a")).toEqual(secret);
    expect(() => keys.open(sealed, "tenant-data-key:ten_b")).toThrow();
  });

  it("opens values sealed before key ids existed", () => {
    const key = newDataKey();
    const legacy = seal(key, secret, "tenant-data-key:ten_a");
    const keys = new MasterKeyring(newDataKey(), [key]);
    expect(keys.open(legacy, "tenant-data-key:ten_a")).toEqual(secret);
    expect(keys.isCurrent(legacy)).toBe(false);
  });

  it("keeps opening under the old key after a rotation until told to forget it", () => {
    const keys = new MasterKeyring(newDataKey());
    const before = keys.seal(secret, "c");
    const oldId = keys.currentId;
    keys.rotateTo(newDataKey());
    expect(keys.previousIds).toEqual([oldId]);
    expect(keys.isCurrent(before)).toBe(false);
    expect(keys.open(before, "c")).toEqual(secret);
    const after = keys.seal(secret, "c");
    keys.forgetPrevious();
    expect(keys.open(after, "c")).toEqual(secret);
    expect(() => keys.open(before, "c")).toThrow(`master key ${oldId}, which is not configured`);
  });
});
