import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import type { Migration } from "./db/database";
import type { HttpRoute } from "./server";

// A room as one server hosts it. The server opens the rooms it is asked to
// run, serves them all on one port, starts their workers once it listens,
// and on close stops them (in reverse order) around its own close.
export interface Room {
  // Run on every RPC, after the error interceptor, before any room's code.
  interceptors?: Interceptor[];
  routes?(router: ConnectRouter): void;
  httpRoutes?: HttpRoute[];
  // Once the server listens.
  start?(): Promise<void> | void;
  // Before the server stops taking requests.
  stop?(): Promise<void>;
  // Once the server has closed.
  close?(): Promise<void>;
}

// What a room's package exports to be hosted: its tables and how to open it
// with what it needs from the host.
export interface RoomModule<Deps, Opened extends Room = Room> {
  name: string;
  migrations: readonly Migration[];
  open(deps: Deps): Promise<Opened> | Opened;
}
