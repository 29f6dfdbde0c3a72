import { createMemberWithPassword } from "@onerouter/admin";
import type { OneRouter } from "@onerouter/server";

// A member of the server's default tenant who signs in with `password`,
// made as the operator's `onerouter members create` makes one.
export async function addTestMember(
  app: Pick<OneRouter, "db" | "defaultTenantId">,
  member: { email: string; password: string; role: "owner" | "admin" | "developer" | "viewer" },
): Promise<void> {
  await createMemberWithPassword(app.db.knex, {
    tenantId: app.defaultTenantId,
    email: member.email,
    name: member.email.split("@")[0]!,
    role: member.role,
    password: member.password,
    actor: "test",
  });
}
