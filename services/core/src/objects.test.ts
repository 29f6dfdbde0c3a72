import { execFileSync } from "node:child_process";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { copyWith } from "./objects";

describe("copyWith", () => {
  it("copies as a spread does: the changes over the base, in the spread's order of keys, the base untouched", () => {
    const tag = Symbol("tag");
    const base = { a: 1, b: 2, [tag]: "kept" };
    const copy = copyWith(base, { b: 20, c: 30 });
    expect(copy).toEqual({ ...base, b: 20, c: 30 });
    expect(Object.keys(copy)).toEqual(["a", "b", "c"]);
    expect(copy[tag]).toBe("kept");
    expect(base).toEqual({ a: 1, b: 2, [tag]: "kept" });
  });

  it("keeps a key named __proto__ as a property, as a spread does, whichever side has it", () => {
    // As JSON.parse and protobuf maps give it: an own property, not the prototype.
    const metadata = JSON.parse('{"__proto__": "kept", "order": "42"}') as Record<string, string>;
    const copy = copyWith(metadata, { onerouter_payment_id: "pay_1" });
    expect(Object.keys(copy)).toEqual(["__proto__", "order", "onerouter_payment_id"]);
    expect(Object.getOwnPropertyDescriptor(copy, "__proto__")?.value).toBe("kept");
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    const over = copyWith({ order: "42" }, metadata);
    expect(Object.getOwnPropertyDescriptor(over, "__proto__")?.value).toBe("kept");
  });

  // Asked of V8 itself, in a node of its own with natives syntax allowed.
  it("gives copies of one shape one hidden class, where a literal that starts with a spread gives each its own", () => {
    const objects = pathToFileURL(path.join(import.meta.dirname, "objects.ts")).href;
    const script = `
      import { copyWith } from ${JSON.stringify(objects)};
      const base = (i) => ({ tenant_id: "t" + i, key: "k" + i });
      const copied = (i) => copyWith(base(i), { status: "in_progress", at: i });
      const spread = (i) => ({ ...base(i), status: "in_progress", at: i });
      for (let i = 0; i < 1000; i++) copied(i), spread(i);
      console.log(JSON.stringify({ copied: %HaveSameMap(copied(1), copied(2)), spread: %HaveSameMap(spread(1), spread(2)) }));
    `;
    const out = execFileSync(process.execPath, ["--allow-natives-syntax", "--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" });
    expect(JSON.parse(out)).toEqual({ copied: true, spread: false });
  });
});
