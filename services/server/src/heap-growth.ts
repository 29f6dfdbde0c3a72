import v8 from "node:v8";

// After each full collection V8 lets the old generation grow to as much as
// four times what survived before it collects again, and keeps those pages
// committed: under load, requests in flight survive into the old generation
// and the heap holds two to three times its live size. Growing by half at
// most keeps the server's RSS near what it uses, for a full collection a
// little more often (no measurable CPU per payment in bench/payments). A
// heuristic V8 reads at every collection, so setting it once the process
// runs takes effect; NODE_OPTIONS does not accept it.
export const heapGrowingPercent = 50;

export function limitHeapGrowth(): void {
  v8.setFlagsFromString(`--heap-growing-percent=${heapGrowingPercent}`);
}
