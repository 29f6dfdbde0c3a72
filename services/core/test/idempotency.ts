import type { Database, Knex } from "../src/db/database";
import { startProcessLiveness } from "../src/process-liveness";

// Test helpers that leave behind what a process killed mid-request leaves.

// The instance id of a process that has stopped.
export async function goneInstanceId(db: Pick<Database, "knex" | "engine">): Promise<string> {
  const liveness = await startProcessLiveness(db);
  await liveness.close();
  return liveness.instanceId;
}

// Turns the completed Idempotency-Key row `key` (or a copy of it under
// `asKey`, same request) into a claim still held by the gone process
// `ownerInstance`, its lease a minute from running out, bound to
// `resourceId` (null: the process died before creating anything).
export async function leaveClaimBehind(
  knex: Knex,
  where: { tenantId: string; key: string },
  leftover: { ownerInstance: string; resourceId: string | null; asKey?: string },
): Promise<void> {
  const id = { tenant_id: where.tenantId, key: where.key };
  const claimed = {
    status: "in_progress",
    response: null,
    error: null,
    lease_owner: "killed-request",
    owner_instance: leftover.ownerInstance,
    lease_expires_at: new Date(Date.now() + 60_000),
    resource_id: leftover.resourceId,
  };
  if (leftover.asKey === undefined) {
    const updated = await knex("idempotency_keys").where(id).update(claimed).returning("key");
    if (updated.length === 0) throw new Error(`no Idempotency-Key ${where.key}`);
    return;
  }
  const row = (await knex("idempotency_keys").where(id).first()) as Record<string, unknown> | undefined;
  if (!row) throw new Error(`no Idempotency-Key ${where.key}`);
  await knex("idempotency_keys").insert({ ...row, ...claimed, key: leftover.asKey });
}
