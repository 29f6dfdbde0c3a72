import v8 from "node:v8";

// After each full collection V8 lets the old generation grow to as much as
// four times what survived before it collects again, and keeps those pages
// committed: under load, requests in flight survive into the old generation
// and the heap holds two to three times its live size. A heuristic V8 reads
// at every collection, so setting it once the process runs takes effect;
// NODE_OPTIONS does not accept it.
//
// How far it may grow trades memory for the full collections' pauses,
// which land in the calls running then (bench/payments' slowest 1 % of
// payments at concurrency 1, on a Postgres server, 3 to 6 runs each):
// - to 1.5 times what survived: a full collection paused 20-70 % of them,
//   RSS 200 MiB;
// - to twice: 9-53 %, RSS 215 MiB;
// - to three times: 0-17 %, RSS 265 MiB;
// - V8's default: 0-17 %, RSS 297-319 MiB.
// CPU per payment did not differ measurably. On a Postgres server it may
// grow to three times, the most that stays clear of the 300 MiB the server
// is held to; embedded, where PGlite's memory is the process's too and RSS
// is already 280-300 MiB under load, to 1.5 times.
//
// The young generation stays at V8's default size (semi-spaces of up to
// 16 MiB). Larger ones (32 or 64 MiB, growing or fixed) cut the scavenges
// by up to two thirds in bench/payments but not the bytes they copy (a
// tenth fewer at most): what survives a scavenge is request state held
// across database and provider waits, which outlives either interval. Each
// scavenge then copies more, a longer pause, and the RSS grows, in embedded
// mode by 60 MiB and more, since the size is the process's and PGlite's
// thread takes it too. Smaller ones (8 MiB) scavenge twice as often and
// promote a fifth more. It could not be set here anyway: V8 sizes the young
// generation when it sets up the heap, so setFlagsFromString changes nothing
// once the process runs.
export function heapGrowingPercent(config: { databaseUrl?: string }): number {
  return config.databaseUrl ? 200 : 50;
}

export function limitHeapGrowth(config: { databaseUrl?: string }): void {
  v8.setFlagsFromString(`--heap-growing-percent=${heapGrowingPercent(config)}`);
}
