import { startEmulator } from "@onerouter/sandbox";
import { countingSandbox } from "./counting-sandbox";

// The counting sandbox provider (counting-sandbox.ts) in its own process, so
// it outlives the product's crashes. Run with: node --import tsx sandbox-process.ts

const running = await startEmulator(countingSandbox(), { host: "127.0.0.1" });
process.stdout.write(`listening on ${running.url}\n`);
