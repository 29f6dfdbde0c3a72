import { randomBytes } from "node:crypto";
import { jsonColumn, type JsonColumn, type Knex, type MasterKeyring } from "@onerouter/core";

// Endpoint signing secrets: whsec_<base64 of 24 random bytes>, as Standard
// Webhooks defines. Stored sealed with the master keys, bound to the endpoint.

export interface StoredSecret {
  sealed: string;
  created_at: string;
  // Unset for the current secret; set on the previous one during rotation.
  expires_at: string | null;
}

export function newEndpointSecret(): string {
  return `whsec_${randomBytes(24).toString("base64")}`;
}

export function sealSecret(masterKeys: MasterKeyring, endpointId: string, secret: string, expiresAt?: Date): StoredSecret {
  return {
    sealed: masterKeys.seal(Buffer.from(secret), `webhook-endpoint:${endpointId}`),
    created_at: new Date().toISOString(),
    expires_at: expiresAt?.toISOString() ?? null,
  };
}

// Secrets that sign now: the current one and any still inside its overlap window.
export function activeSecrets(masterKeys: MasterKeyring, endpointId: string, stored: StoredSecret[], now = new Date()): string[] {
  return stored
    .filter((s) => s.expires_at === null || new Date(s.expires_at) > now)
    .map((s) => masterKeys.open(s.sealed, `webhook-endpoint:${endpointId}`).toString("utf8"));
}

// Re-seals every endpoint secret not yet under the current master key (a
// master key rotation), a batch of endpoints per short transaction. Returns
// how many endpoints changed.
export async function resealEndpointSecrets(knex: Knex, masterKeys: MasterKeyring, batchSize = 50): Promise<number> {
  let after = "";
  let total = 0;
  for (;;) {
    const batch = await knex.transaction(async (trx) => {
      const rows = (await trx("webhook_endpoints")
        .where("id", ">", after)
        .orderBy("id")
        .limit(batchSize)
        .forUpdate()
        .select("id", "secrets")) as { id: string; secrets: JsonColumn<StoredSecret[]> }[];
      let changed = 0;
      for (const row of rows) {
        const stored = jsonColumn(row.secrets);
        if (stored.every((s) => masterKeys.isCurrent(s.sealed))) continue;
        const context = `webhook-endpoint:${row.id}`;
        const resealed = stored.map((s) =>
          masterKeys.isCurrent(s.sealed) ? s : { ...s, sealed: masterKeys.seal(masterKeys.open(s.sealed, context), context) },
        );
        await trx("webhook_endpoints").where({ id: row.id }).update({ secrets: JSON.stringify(resealed) });
        changed++;
      }
      return { last: rows.at(-1)?.id, changed };
    });
    total += batch.changed;
    if (!batch.last) return total;
    after = batch.last;
  }
}
