import { afterAll, beforeAll } from "vitest";

// Starts a test bed before the enclosing file's or describe block's tests and
// closes it after them; the returned function reads the running bed.
export function useTestBed<T extends { close(): Promise<void> }>(start: () => Promise<T>): () => T {
  let bed: T | undefined;
  beforeAll(async () => {
    bed = await start();
  });
  afterAll(async () => {
    await bed?.close();
  });
  return () => {
    if (bed === undefined) throw new Error("the test bed is read before it started");
    return bed;
  };
}
