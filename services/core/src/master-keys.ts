import { createHash } from "node:crypto";
import { open, seal } from "./crypto";

// The master keys: the current one seals; the current and the previous ones
// open, so a rotation needs no downtime. A value sealed here starts with the
// id of the key that sealed it ("<key id>:v1...."); values from before key ids
// existed carry none and are opened by trying each key (GCM refuses a wrong one).

export function masterKeyId(key: Buffer): string {
  return createHash("sha256").update("onerouter master key id\0").update(key).digest("hex").slice(0, 16);
}

export class MasterKeyring {
  private keys: Map<string, Buffer>;
  private current: string;

  constructor(current: Buffer, previous: Buffer[] = []) {
    this.current = masterKeyId(current);
    this.keys = new Map([[this.current, current], ...previous.map((k) => [masterKeyId(k), k] as const)]);
  }

  get currentId(): string {
    return this.current;
  }

  // Ids of the keys that only open, oldest rotation last.
  get previousIds(): string[] {
    return [...this.keys.keys()].filter((id) => id !== this.current);
  }

  seal(plaintext: Buffer, context: string): string {
    return `${this.current}:${seal(this.keys.get(this.current)!, plaintext, context)}`;
  }

  open(sealed: string, context: string): Buffer {
    const colon = sealed.indexOf(":");
    if (colon >= 0) {
      const id = sealed.slice(0, colon);
      const key = this.keys.get(id);
      if (!key) throw new Error(`sealed under master key ${id}, which is not configured`);
      return open(key, sealed.slice(colon + 1), context);
    }
    for (const key of this.keys.values()) {
      try {
        return open(key, sealed, context);
      } catch {
        // Not this key; try the next.
      }
    }
    throw new Error("sealed under a master key that is not configured");
  }

  isCurrent(sealed: string): boolean {
    return sealed.startsWith(`${this.current}:`);
  }

  // `key` seals from now on; the current one keeps opening until forgotten.
  rotateTo(key: Buffer) {
    this.current = masterKeyId(key);
    this.keys.set(this.current, key);
  }

  // Drops every key but the current one: nothing sealed under them remains.
  forgetPrevious() {
    this.keys = new Map([[this.current, this.keys.get(this.current)!]]);
  }
}
