import { randomBytes } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

// PGlite gives one process a data folder; a second one opening it works for
// a while and loses what it wrote. So whoever opens an embedded data folder
// first takes this lock: a file created atomically (link() fails if it
// exists) naming the holder. A holder that died (kill -9, a crash) leaves the
// file behind; it is stale once its PID is gone from this host, so the next
// start takes it over without anyone deleting files by hand.

export interface DataFolderHolder {
  pid: number;
  host: string;
  startedAt: string;
  // What holds the folder: "server" (start, dev) or a CLI command.
  command: string;
  // Linux: the process's start time in clock ticks since boot, so a PID
  // reused by an unrelated process is not taken for the holder.
  startTicks?: string;
}

export class DataFolderBusyError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: DataFolderHolder,
  ) {
    super(
      `the data folder ${dataDir} is in use by process ${holder.pid} on ${holder.host} ` +
        `(onerouter ${holder.command}, since ${holder.startedAt}); stop it or use another ONEROUTER_DATA_DIR`,
    );
    this.name = "DataFolderBusyError";
  }
}

export interface DataFolderLock {
  holder: DataFolderHolder;
  release(): void;
}

const lockFileName = "onerouter.lock";
// Lock files this process holds: a holder with our own PID is alive only if listed here.
const heldHere = new Set<string>();

function processStartTicks(pid: number): string | undefined {
  try {
    // Field 22 of /proc/<pid>/stat, counted after the command name (which may hold spaces).
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function isAlive(file: string, holder: DataFolderHolder): boolean {
  // Another host's process cannot be checked from here.
  if (holder.host !== os.hostname()) return true;
  // Our own PID from an earlier life (a restarted container reuses PIDs).
  if (holder.pid === process.pid) return heldHere.has(file);
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return false;
  }
  const ticks = processStartTicks(holder.pid);
  return !(holder.startTicks && ticks && ticks !== holder.startTicks);
}

function readHolder(file: string): { raw: string; holder?: DataFolderHolder } | undefined {
  let raw: string;
  try {
    raw = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  try {
    const holder = JSON.parse(raw) as DataFolderHolder;
    return typeof holder.pid === "number" ? { raw, holder } : { raw };
  } catch {
    return { raw };
  }
}

// Creates `file` with `content` atomically: it exists complete or not at all.
function createExclusive(file: string, content: string): boolean {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
  writeFileSync(temp, content, { mode: 0o600 });
  try {
    linkSync(temp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  } finally {
    unlinkSync(temp);
  }
}

// Removes a stale lock file, unless someone replaced it meanwhile. Breakers
// take turns through a second lock file so two of them cannot each remove
// the other's fresh lock.
function breakStale(file: string, staleRaw: string) {
  const breaker = `${file}.break`;
  if (!createExclusive(breaker, String(process.pid))) {
    const other = Number(readHolder(breaker)?.raw);
    const otherAlive = other > 0 && other !== process.pid && isAlive(breaker, { pid: other, host: os.hostname(), startedAt: "", command: "" });
    if (!otherAlive) unlinkSync(breaker);
    return;
  }
  try {
    if (readHolder(file)?.raw === staleRaw) unlinkSync(file);
  } finally {
    unlinkSync(breaker);
  }
}

// Takes the embedded data folder for this process, or throws DataFolderBusyError.
export function lockDataFolder(dataDir: string, command: string): DataFolderLock {
  const folder = path.resolve(dataDir);
  mkdirSync(folder, { recursive: true });
  const file = path.join(folder, lockFileName);
  const ticks = processStartTicks(process.pid);
  const me: DataFolderHolder = {
    pid: process.pid,
    host: os.hostname(),
    startedAt: new Date().toISOString(),
    command,
    ...(ticks && { startTicks: ticks }),
  };
  for (let attempt = 0; attempt < 10; attempt++) {
    if (!heldHere.has(file) && createExclusive(file, JSON.stringify(me))) {
      heldHere.add(file);
      return { holder: me, release: () => release(file, me) };
    }
    const found = readHolder(file);
    if (!found) continue;
    if (found.holder && isAlive(file, found.holder)) throw new DataFolderBusyError(folder, found.holder);
    breakStale(file, found.raw);
  }
  throw new Error(`could not take the lock on the data folder ${folder}; remove ${file} if no OneRouter process uses it`);
}

// The live process holding the folder, if any.
export function dataFolderHolder(dataDir: string): DataFolderHolder | undefined {
  const file = path.join(path.resolve(dataDir), lockFileName);
  const holder = readHolder(file)?.holder;
  return holder && isAlive(file, holder) ? holder : undefined;
}

function release(file: string, me: DataFolderHolder) {
  if (!heldHere.delete(file)) return;
  if (readHolder(file)?.holder?.startedAt === me.startedAt) unlinkSync(file);
}
