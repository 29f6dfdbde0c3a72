import { PGlite } from "@electric-sql/pglite";
import { readFile } from "node:fs/promises";
import { mkdtempSync } from "node:fs";
import os from "node:os"; import path from "node:path";
const mems = []; const OrigMem = WebAssembly.Memory; WebAssembly.Memory = function (d) { const m = new OrigMem(d); mems.push(m); return m; }; WebAssembly.Memory.prototype = OrigMem.prototype;
const mib = (b) => (b / 2 ** 20).toFixed(0);
const show = (label, pg) => { const m = process.memoryUsage(); console.log(label, "rss", mib(m.rss), "heap", mib(m.heapUsed), "ext", mib(m.external), "ab", mib(m.arrayBuffers), "wasm", mems.map((m) => mib(m.buffer.byteLength)).join("+")); };
show("start");
const settings = (process.env.PGSET ?? "shared_buffers=16MB,maintenance_work_mem=16MB").split(",").filter(Boolean);
const dataDir = mkdtempSync(path.join(os.tmpdir(), "probe-"));
const loadDataDir = new Blob([await readFile("/work/wt/embedded/services/server/dist/pglite-template.tgz")]);
const t0 = performance.now();
const pg = new PGlite({ dataDir: dataDir + "/pg", loadDataDir, startParams: [...PGlite.defaultStartParams, ...settings.flatMap((s) => ["-c", s])], ...(process.env.INITMEM && { initialMemory: Number(process.env.INITMEM) * 2 ** 20 }) });
await pg.waitReady;
console.log("start ms", (performance.now() - t0).toFixed(0));
show("ready", pg);
await pg.exec("create table t (id text primary key, n int, body jsonb, created_at timestamptz default now())");
for (let i = 0; i < Number(process.env.N ?? 5000); i++) {
  await pg.query("begin");
  await pg.query("insert into t values ($1, $2, $3)", ["id" + i, i, JSON.stringify({ a: "x".repeat(200), i })]);
  await pg.query("update t set n = n + 1 where id = $1", ["id" + i]);
  await pg.query("commit");
  if (i % 1000 === 0) show("i=" + i, pg);
}
show("end", pg);
const s = performance.now(); await pg.query("checkpoint"); console.log("checkpoint ms", (performance.now() - s).toFixed(1));
show("after checkpoint", pg);
