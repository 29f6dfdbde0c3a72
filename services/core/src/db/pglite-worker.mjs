// The embedded database's own thread: it holds the PGlite instance and runs
// each statement the main thread sends (pglite-thread.ts), so PGlite's
// synchronous WebAssembly never stalls the server's event loop. Plain
// JavaScript, so the thread starts the same under tsx, vitest and the built
// CLI. Results cross back by structured clone, which keeps what PGlite
// returns (Dates, Uint8Arrays, bigints, parsed JSON); errors cross as their
// fields, since a clone keeps an Error's message but not its code.

import { readFile } from "node:fs/promises";
import { parentPort, workerData } from "node:worker_threads";
import { PGlite } from "@electric-sql/pglite";

const { dataDir, templateFile, settings } = workerData;

function errorFields(err) {
  if (!(err instanceof Error)) return { message: String(err) };
  const fields = { name: err.name, message: err.message };
  for (const [key, value] of Object.entries(err)) {
    // The failed statement's params and options may hold what cannot be cloned; the caller has them.
    if (key !== "params" && key !== "queryOptions" && (value === null || typeof value !== "object" || key === "cause")) fields[key] = value;
  }
  return fields;
}

const reply = (id, answer) => {
  try {
    parentPort.postMessage({ id, ...answer });
  } catch (err) {
    parentPort.postMessage({ id, error: errorFields(err) });
  }
};

let pglite;
const ready = (async () => {
  const loadDataDir = templateFile ? new Blob([await readFile(templateFile)]) : undefined;
  const startParams = [...PGlite.defaultStartParams, ...(settings ?? []).flatMap((setting) => ["-c", setting])];
  pglite = new PGlite({ ...(dataDir && { dataDir }), ...(loadDataDir && { loadDataDir }), startParams });
  await pglite.waitReady;
})();

// One channel is listened to once here, whoever listens on the main thread.
const listening = new Map();

const operations = {
  query: ({ sql, params, options }) => pglite.query(sql, params, options),
  exec: ({ sql, options }) => pglite.exec(sql, options),
  async listen({ channel }) {
    if (!listening.has(channel)) listening.set(channel, await pglite.listen(channel, (payload) => parentPort.postMessage({ channel, payload })));
  },
  async unlisten({ channel }) {
    const stop = listening.get(channel);
    listening.delete(channel);
    await stop?.();
  },
  async dumpDataDir({ compression }) {
    return new Uint8Array(await (await pglite.dumpDataDir(compression)).arrayBuffer());
  },
  close: () => pglite.close(),
};

parentPort.on("message", (message) => {
  ready
    .then(() => operations[message.op](message))
    .then(
      (result) => reply(message.id, { result }),
      (err) => reply(message.id, { error: errorFields(err) }),
    );
});
// A failed start is each statement's answer.
ready.catch(() => undefined);
