import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";

// The .proto files are the API's source of truth: they must lint clean, must
// not break what the previous commit on main published, and the committed
// generated code must be what they generate.
const root = path.resolve(import.meta.dirname, "..");
const buf = path.join(root, "node_modules/.bin/buf");

function git(args: string[]) {
  return spawnSync("git", args, { cwd: root, encoding: "utf8" });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? filesUnder(full) : [full];
  });
}

describe("contracts", () => {
  it("pass buf lint (STANDARD)", () => {
    const result = spawnSync(buf, ["lint"], { cwd: root, encoding: "utf8" });
    expect(result.stdout + result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it("make no breaking change against the previous commit on main", () => {
    // With uncommitted proto changes the baseline is HEAD; otherwise HEAD~1.
    const dirty = git(["diff", "--quiet", "HEAD", "--", "proto"]).status !== 0;
    const baseline = dirty ? "HEAD" : "HEAD~1";
    if (git(["rev-parse", "--verify", "--quiet", `${baseline}:proto`]).status !== 0) {
      // The first commit that adds proto/ has nothing to break.
      expect(git(["rev-parse", "--verify", "--quiet", "HEAD:proto"]).status).toBe(0);
      return;
    }
    const result = spawnSync(buf, ["breaking", "proto", "--against", `.git#ref=${baseline},subdir=proto`], {
      cwd: root,
      encoding: "utf8",
    });
    expect(result.stdout + result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it("match the committed generated code", () => {
    const out = mkdtempSync(path.join(os.tmpdir(), "onerouter-gen-"));
    try {
      const template = readFileSync(path.join(root, "buf.gen.yaml"), "utf8").replace("out: clients/ts/src/gen", `out: ${out}`);
      execFileSync(buf, ["generate", "--template", template], { cwd: root, stdio: "pipe" });
      const committed = path.join(root, "clients/ts/src/gen");
      const generated = filesUnder(out).map((f) => path.relative(out, f)).sort();
      expect(filesUnder(committed).map((f) => path.relative(committed, f)).sort()).toEqual(generated);
      for (const file of generated) {
        expect(readFileSync(path.join(committed, file), "utf8"), file).toBe(readFileSync(path.join(out, file), "utf8"));
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
