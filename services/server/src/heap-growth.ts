import v8 from "node:v8";

// After each full collection V8 lets the old generation grow to as much as
// four times what survived before it collects again, and keeps those pages
// committed: under load, requests in flight survive into the old generation
// and the heap holds two to three times its live size. Growing by half at
// most keeps the server's RSS near what it uses, for a full collection a
// little more often (no measurable CPU per payment in bench/payments). A
// heuristic V8 reads at every collection, so setting it once the process
// runs takes effect; NODE_OPTIONS does not accept it.
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
export const heapGrowingPercent = 50;

export function limitHeapGrowth(): void {
  v8.setFlagsFromString(`--heap-growing-percent=${heapGrowingPercent}`);
}
