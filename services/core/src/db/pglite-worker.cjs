// The embedded database's own thread: it holds the PGlite instance and runs
// each statement the main thread sends (pglite-thread.ts), so PGlite's
// synchronous WebAssembly never stalls the server's event loop. Plain
// JavaScript, so the thread starts the same under tsx, vitest and the built
// CLI, and CommonJS, which a thread loads faster than an ES module (PGlite
// ready to use about 35 ms sooner). Results cross back as v8's
// serialization, a structured clone's format, which keeps what PGlite
// returns (Dates, Uint8Arrays, bigints, parsed JSON), read back by the main
// thread's own code, so that its part of each call can be timed; errors
// cross as their fields, since a clone keeps an Error's message but not its
// code.

const { execFile } = require("node:child_process");
const { readlinkSync } = require("node:fs");
const { mkdir, readFile, utimes, writeFile } = require("node:fs/promises");
const path = require("node:path");
const { promisify } = require("node:util");
const v8 = require("node:v8");
const { parentPort, workerData } = require("node:worker_threads");
const { gunzip } = require("node:zlib");
const { parse, PGlite, protocol } = require("@electric-sql/pglite");

const { dataDir, templateFile, settings } = workerData;

// V8 compiles PGlite's WebAssembly at once with its baseline compiler
// (Liftoff), then recompiles the code that runs hot with its optimizing one
// (TurboFan) in background threads. Postgres's start alone runs enough code
// for that to compile much of it again, which doubled a CLI command's CPU
// time; under load a server recompiles most of it, and the compiler's memory
// stays with the process (bench/payments, embedded: 365-371 MiB of RSS with
// the optimized code, 279-282 without, for about a tenth more CPU per
// payment and the same throughput). So PGlite keeps the baseline code. The
// flag is the process's, set before PGlite compiles; PGlite is the one large
// WebAssembly module a process runs.
v8.setFlagsFromString("--liftoff-only");

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
    if ("error" in answer) return parentPort.postMessage({ id, error: answer.error });
    // The serialization's memory is its own (not a slice of Node's pool), so
    // it moves to the main thread instead of being copied.
    const result = v8.serialize(answer.result);
    parentPort.postMessage({ id, result }, result.byteOffset === 0 && result.byteLength === result.buffer.byteLength ? [result.buffer] : []);
  } catch (err) {
    parentPort.postMessage({ id, error: errorFields(err) });
  }
};

// A tar header's text field: NUL-terminated ASCII.
const headerText = (header, start, length) => header.subarray(start, start + length).toString("latin1").replace(/\0.*$/s, "");

// Unpacks a template (a gzipped tarball from dumpDataDir) into a new data
// folder. PGlite's own loading (loadDataDir) unpacks it through its
// WebAssembly file system and leaves the thread ~100 MiB larger for good;
// here each file is one write from the unpacked tarball, freed once done.
// PG_VERSION, which marks a folder as a database, is written last, so an
// interrupted unpacking leaves a folder that the next start unpacks again.
async function unpackTemplate(file, dir) {
  const tarball = await promisify(gunzip)(await readFile(file));
  let versionFile;
  for (let at = 0; at + 512 <= tarball.length; ) {
    const header = tarball.subarray(at, at + 512);
    const name = headerText(header, 0, 100);
    if (name === "") break;
    const size = parseInt(headerText(header, 124, 12), 8) || 0;
    const prefix = headerText(header, 257, 6) === "ustar" ? headerText(header, 345, 155) : "";
    const target = path.join(dir, prefix, name);
    if (target !== dir && !target.startsWith(dir + path.sep)) throw new Error(`the template ${file} names a file outside its folder: ${name}`);
    const mode = parseInt(headerText(header, 100, 8), 8) & 0o7777;
    const type = String.fromCharCode(header[156]);
    if (type === "5") await mkdir(target, { recursive: true, mode });
    else if (type === "0" || type === "\0") {
      const entry = { target, mode, data: tarball.subarray(at + 512, at + 512 + size), modified: parseInt(headerText(header, 136, 12), 8) };
      if (target === path.join(dir, "PG_VERSION")) versionFile = entry;
      else await writeEntry(entry);
    }
    at += 512 + Math.ceil(size / 512) * 512;
  }
  if (versionFile) await writeEntry(versionFile);
}

async function writeEntry({ target, mode, data, modified }) {
  await mkdir(path.dirname(target), { recursive: true });
  await writeFile(target, data, { mode });
  await utimes(target, modified, modified);
}

// This thread runs as a batch thread (Linux's SCHED_BATCH), which never
// takes the core of the thread that wakes it. Otherwise, on a busy machine,
// handing it a statement let it preempt the server's event loop for as long
// as the statement ran: in bench/payments (embedded, 2 cores), the database
// accounted for up to 3.4-6.2 ms of one of the event loop's stretches on a
// call, and handing a call over took 0.14-0.18 ms on average; as a batch
// thread, 0.3-2.7 ms and 0.04 ms, for the same throughput. It keeps its full
// share of the cores, unlike a lower priority (nice), under which it crawled
// while other processes kept the cores busy. Set with util-linux's chrt,
// since Node has no call for it; without chrt (not Linux, or not installed)
// the thread stays as it was.
const scheduledAsBatch = new Promise((resolve) => {
  let thread;
  try {
    thread = readlinkSync("/proc/thread-self").split("/").pop();
  } catch {
    return resolve();
  }
  // The start waits for it, but never long: a stuck chrt is killed.
  execFile("chrt", ["--batch", "--pid", "0", thread], { timeout: 5000 }, () => resolve());
});

let pglite;
const ready = (async () => {
  // A folder is unpacked from its template before PGlite opens it; memory is loaded by PGlite.
  if (templateFile && dataDir) await unpackTemplate(templateFile, path.resolve(dataDir));
  const loadDataDir = templateFile && !dataDir ? new Blob([await readFile(templateFile)]) : undefined;
  const startParams = [...PGlite.defaultStartParams, ...(settings ?? []).flatMap((setting) => ["-c", setting])];
  pglite = new PGlite({ ...(dataDir && { dataDir }), ...(loadDataDir && { loadDataDir }), startParams });
  await Promise.all([pglite.waitReady, scheduledAsBatch]);
})();

// PGlite's query() parses and plans each statement it is given, every time.
// A statement given a name (core's runPrepared: the hot path's big WITH
// statements and claims) is parsed once in this session instead, then only
// bound and run, with Postgres's plan cache, as node-postgres runs a named
// statement on a Postgres server. The name is the text's hash, so one name is
// one text. Its parameters' types, from the statement's description, are
// kept with it.
const preparedTypes = new Map();

async function queryPrepared(sql, params = [], options) {
  const { name } = options;
  const send = (message) => pglite.execProtocolStream(message, { syncToFs: false });
  return pglite._runExclusiveTransaction(() =>
    pglite._runExclusiveQuery(async () => {
      const messages = [];
      try {
        let types = preparedTypes.get(name);
        if (!types) {
          if (!preparedTypes.has(name)) {
            await send(protocol.serialize.parse({ name, text: sql }));
            preparedTypes.set(name, undefined);
          }
          types = parse.parseDescribeStatementResults(await send(protocol.serialize.describe({ type: "S", name })));
          preparedTypes.set(name, types);
        }
        const values = params.map((value, i) => {
          if (value === null || value === undefined) return null;
          const serialize = pglite.serializers[types[i]];
          return serialize ? serialize(value) : value.toString();
        });
        messages.push(
          ...(await send(protocol.serialize.bind({ statement: name, values }))),
          ...(await send(protocol.serialize.describe({ type: "P" }))),
          ...(await send(protocol.serialize.execute({}))),
        );
      } catch (err) {
        // As PGlite's query() tells a failed statement.
        if (err instanceof protocol.messages.DatabaseError) err.query = sql;
        throw err;
      } finally {
        messages.push(...(await send(protocol.serialize.sync())));
      }
      if (!pglite.isInTransaction()) await pglite.syncToFs();
      return parse.parseResults(messages, pglite.parsers, options)[0];
    }),
  );
}

// One channel is listened to once here, whoever listens on the main thread.
const listening = new Map();

const operations = {
  query: ({ sql, params, options }) => (options?.name ? queryPrepared(sql, params, options) : pglite.query(sql, params, options)),
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

// How long this thread has been busy with calls, from a call's arrival to
// the last answer sent, for the main thread to tell its own waits for a core
// from those this thread can have caused (pglite-thread.ts,
// DatabaseBusyClock): one number in memory both threads share, in
// microseconds of the process's monotonic clock. While idle, the busy time so
// far; while busy, that time minus when the thread became busy.
const busyState = new BigInt64Array(workerData.busyTime);
let busyUs = 0n;
let busySinceUs = 0n;
let callsInHand = 0;
const nowUs = () => process.hrtime.bigint() / 1000n;

function callArrived() {
  if (callsInHand++ > 0) return;
  busySinceUs = nowUs();
  Atomics.store(busyState, 0, busyUs - busySinceUs);
}

function callAnswered() {
  if (--callsInHand > 0) return;
  busyUs += nowUs() - busySinceUs;
  Atomics.store(busyState, 0, busyUs);
}

// Calls run one after another in the order sent, a deferred BEGIN (answered
// early on the main thread) just before the call it came with: PGlite's own
// queue would let a later call in between the two.
let turn = Promise.resolve();
parentPort.on("message", (message) => {
  callArrived();
  const run = turn
    .then(() => ready)
    .then(() => message.begin && pglite.query("BEGIN;"))
    .then(() => operations[message.op](message));
  turn = run.catch(() => undefined);
  run
    .then(
      (result) => reply(message.id, { result }),
      (err) => reply(message.id, { error: errorFields(err) }),
    )
    .then(callAnswered);
});
// A failed start is each statement's answer.
ready.catch(() => undefined);
