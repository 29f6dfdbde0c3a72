import { existsSync, readFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { SourceMap } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

// CPU profiles for the benchmarks' reports: the process profiles itself over
// the timed part (as `node --cpu-prof` would over the whole run), and the
// busiest functions by self time go into the report. Run directly on a
// .cpuprofile file (from `node --cpu-prof`), it prints the same table.

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number } }[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileEntry {
  name: string;
  // Script and line, relative to the repository; node's own or native code as Node names it.
  location: string;
  selfMs: number;
  share: number;
}

export async function profileOf(work: () => Promise<void>): Promise<CpuProfile> {
  const session = new Session();
  session.connect();
  try {
    await session.post("Profiler.enable");
    await session.post("Profiler.start");
    await work();
    const { profile } = (await session.post("Profiler.stop")) as { profile: CpuProfile };
    return profile;
  } finally {
    session.disconnect();
  }
}

const sourceMaps = new Map<string, SourceMap | undefined>();

// Where a profiled function's code was written: for a bundle (a benchmark
// built as the CLI is, bench/built.ts), its TypeScript source through the
// bundle's source map; else the script itself. Lines and columns from 0.
export function sourceOf(url: string, lineNumber: number, columnNumber: number): { url: string; lineNumber: number } {
  if (!url.startsWith("file://")) return { url, lineNumber };
  if (!sourceMaps.has(url)) {
    const mapFile = `${fileURLToPath(url)}.map`;
    sourceMaps.set(url, existsSync(mapFile) ? new SourceMap(JSON.parse(readFileSync(mapFile, "utf8"))) : undefined);
  }
  const entry = sourceMaps.get(url)?.findEntry(lineNumber, columnNumber);
  if (!entry || !("originalSource" in entry)) return { url, lineNumber };
  const original = entry.originalSource.startsWith("file://")
    ? entry.originalSource
    : pathToFileURL(path.resolve(path.dirname(fileURLToPath(url)), entry.originalSource)).href;
  return { url: original, lineNumber: entry.originalLine };
}

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

// Self time per function (name and place), busiest first; idle time left out.
export function topSelfTime(profile: CpuProfile, count: number): ProfileEntry[] {
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const selfUs = new Map<string, { name: string; location: string; us: number }>();
  let totalUs = 0;
  const samples = profile.samples ?? [];
  samples.forEach((nodeId, i) => {
    const frame = frames.get(nodeId);
    const us = profile.timeDeltas?.[i + 1] ?? 0;
    if (!frame || frame.functionName === "(idle)" || frame.functionName === "(program)") return;
    totalUs += us;
    const source = sourceOf(frame.url, frame.lineNumber, frame.columnNumber);
    const file = source.url.startsWith("file://") ? path.relative(repositoryRoot, fileURLToPath(source.url)) : source.url;
    const location = file ? `${file}:${source.lineNumber + 1}` : "";
    const name = frame.functionName || "(anonymous)";
    const key = `${name} ${location}`;
    const entry = selfUs.get(key) ?? { name, location, us: 0 };
    entry.us += us;
    selfUs.set(key, entry);
  });
  return [...selfUs.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, count)
    .map((e) => ({ name: e.name, location: e.location, selfMs: e.us / 1000, share: totalUs === 0 ? 0 : e.us / totalUs }));
}

export function profileTable(entries: ProfileEntry[]): string[] {
  return [
    "| Function | Where | Self ms | Share of busy time |",
    "|---|---|---:|---:|",
    ...entries.map((e) => `| \`${e.name}\` | ${e.location || "–"} | ${e.selfMs.toFixed(0)} | ${(e.share * 100).toFixed(1)} % |`),
  ];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) throw new Error("usage: node --import tsx bench/cpu-profile.ts <file.cpuprofile> [count]");
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  console.log(profileTable(topSelfTime(profile, Number(process.argv[3] ?? 15))).join("\n"));
}
