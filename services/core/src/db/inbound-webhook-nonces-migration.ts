import type { Migration } from "./database";

// Single-use values of inbound webhook signatures (Mailgun's token), kept
// until the signature they came with expires.
export const inboundWebhookNoncesMigration: Migration = {
  name: "20261204_003_core_inbound_webhook_nonces",
  async up(knex) {
    await knex.schema.createTable("inbound_webhook_nonces", (t) => {
      t.text("provider_account_id").notNullable().references("provider_accounts.id").onDelete("CASCADE");
      t.text("nonce").notNullable();
      // SHA-256 of the body the nonce first came with.
      t.text("body_sha256").notNullable();
      t.timestamp("expires_at", { useTz: true }).notNullable();
      t.primary(["provider_account_id", "nonce"]);
      t.index(["expires_at"]);
    });
  },
};
