import type { RoomModule } from "@onerouter/core";
import { adminRoutes, type AdminDeps } from "./routes";

// Tenants' keys, audit log, provider accounts and routing profiles.
export const adminRoom: RoomModule<AdminDeps> = {
  name: "admin",
  migrations: [],
  open(deps) {
    return { routes: adminRoutes(deps) };
  },
};
