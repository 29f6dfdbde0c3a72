import { readFileSync } from "node:fs";
import path from "node:path";
import semver from "semver";
import { describe, expect, it } from "vitest";

// The README and package.json promise a Node version; every package npm
// installs must accept it, or `npm ci` warns and the package may not run.
const root = path.resolve(import.meta.dirname, "..");
const read = (file: string) => JSON.parse(readFileSync(path.join(root, file), "utf8")) as Record<string, unknown>;

describe("the Node version the product states", () => {
  const promised = (read("package.json").engines as { node: string }).node;
  const oldest = semver.minVersion(promised)!.version;

  it("is the one the README states", () => {
    expect(readFileSync(path.join(root, "README.md"), "utf8")).toContain(`Node.js ${oldest.replace(/\.0$/, "")} or newer`);
  });

  it("is accepted by every package in the lock file", () => {
    const packages = read("package-lock.json").packages as Record<string, { version?: string; engines?: { node?: string } }>;
    const refusing = Object.entries(packages)
      .filter(([, entry]) => entry.engines?.node && !semver.satisfies(oldest, entry.engines.node))
      .map(([name, entry]) => `${name}@${entry.version} wants node ${entry.engines!.node}`);
    expect(refusing).toEqual([]);
  });
});
