import type { Migration } from "@onerouter/core/migrations";

// Admin's tables: tenants, their members and API keys, and the audit log.
// Every room's rows refer to a tenant and are always queried by tenant_id.
// The migration keeps its first name so databases that ran it do not rerun it.
export const adminMigrations: Migration[] = [
  {
    name: "20261121_001_core_tenants_members_keys",
    async up(knex) {
      await knex.schema.createTable("tenants", (t) => {
        t.text("id").primary();
        t.text("name").notNullable();
        t.text("plan_id").notNullable().defaultTo("developer");
        t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
      });
      await knex.schema.createTable("members", (t) => {
        t.text("id").primary();
        t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
        t.text("email").notNullable();
        t.text("name").notNullable().defaultTo("");
        t.text("role").notNullable();
        t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
        t.unique(["tenant_id", "email"]);
      });
      await knex.schema.createTable("api_keys", (t) => {
        t.text("id").primary();
        t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
        t.text("name").notNullable();
        t.text("environment").notNullable();
        // Only the start of the key is kept readable; the rest is a SHA-256 hash.
        t.text("prefix").notNullable();
        t.text("key_hash").notNullable().unique();
        t.jsonb("scopes").notNullable().defaultTo("[]");
        t.text("created_by").notNullable();
        t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
        t.timestamp("last_used_at", { useTz: true });
        t.timestamp("revoked_at", { useTz: true });
        t.timestamp("expires_at", { useTz: true });
        t.index(["tenant_id", "environment", "created_at"]);
      });
      await knex.schema.createTable("audit_log_entries", (t) => {
        t.text("id").primary();
        t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
        t.text("actor").notNullable();
        t.text("action").notNullable();
        t.text("resource_type").notNullable();
        t.text("resource_id").notNullable();
        t.text("environment").notNullable();
        t.jsonb("metadata").notNullable().defaultTo("{}");
        t.text("ip_address").notNullable().defaultTo("");
        t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
        t.index(["tenant_id", "created_at"]);
      });
    },
  },
  {
    // A key's last use is the gatekeeper's to record (api_key_usage, which
    // took over these values in the migration before this one).
    name: "20261204_031_admin_api_keys_last_use_to_gatekeeper",
    async up(knex) {
      await knex.schema.alterTable("api_keys", (t) => {
        t.dropColumn("last_used_at");
      });
    },
  },
  {
    // Access: members sign in to the console with a password; sessions and
    // invitations are stored as hashes of their tokens; tenants have a plan
    // and can be suspended; keys can carry their own limits.
    name: "20261205_040_admin_access",
    async up(knex) {
      await knex.schema.alterTable("tenants", (t) => {
        t.timestamp("suspended_at", { useTz: true });
      });
      // Tenants from before plans existed keep working without limits.
      await knex("tenants").where({ plan_id: "developer" }).update({ plan_id: "enterprise" });
      await knex.schema.alterTable("tenants", (t) => {
        t.text("plan_id").notNullable().defaultTo("free").alter();
      });
      // The default tenant used to start with a placeholder owner nobody could sign in as.
      await knex("members").where({ email: "owner@localhost" }).delete();
      await knex.schema.alterTable("members", (t) => {
        t.text("password_hash");
        t.timestamp("last_sign_in_at", { useTz: true });
        t.index(["email"]);
      });
      await knex.schema.createTable("sessions", (t) => {
        t.text("id").primary();
        t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
        t.text("member_id").notNullable().references("members.id").onDelete("CASCADE");
        // SHA-256 of the cookie's token.
        t.text("token_hash").notNullable().unique();
        t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
        t.timestamp("expires_at", { useTz: true }).notNullable();
        t.timestamp("revoked_at", { useTz: true });
        t.text("ip_address").notNullable().defaultTo("");
        t.text("user_agent").notNullable().defaultTo("");
        t.index(["member_id"]);
      });
      await knex.schema.createTable("invitations", (t) => {
        t.text("id").primary();
        t.text("tenant_id").notNullable().references("tenants.id").onDelete("CASCADE");
        t.text("email").notNullable();
        t.text("role").notNullable();
        // SHA-256 of the link's token.
        t.text("token_hash").notNullable().unique();
        t.text("invited_by").notNullable();
        t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
        t.timestamp("expires_at", { useTz: true }).notNullable();
        t.timestamp("accepted_at", { useTz: true });
        t.timestamp("revoked_at", { useTz: true });
        t.text("member_id");
        t.index(["tenant_id", "created_at"]);
      });
      await knex.schema.alterTable("api_keys", (t) => {
        t.integer("requests_per_second").notNullable().defaultTo(0);
        t.integer("burst").notNullable().defaultTo(0);
        t.bigInteger("requests_per_day").notNullable().defaultTo(0);
      });
    },
  },
  {
    // Failed console sign-ins per email, so a lockout holds across processes.
    name: "20261205_041_admin_sign_in_failures",
    async up(knex) {
      await knex.schema.createTable("sign_in_failures", (t) => {
        t.text("email").primary();
        t.integer("failures").notNullable();
        t.timestamp("window_started_at", { useTz: true }).notNullable();
        t.timestamp("locked_until", { useTz: true });
        t.index(["window_started_at"]);
      });
    },
  },
  {
    // An invitation remembers the environment it was made in, so its
    // acceptance is audited beside it, and what became of its email.
    name: "20261205_050_admin_invitation_email",
    async up(knex) {
      await knex.schema.alterTable("invitations", (t) => {
        t.text("environment").notNullable().defaultTo("test");
        t.text("email_message_id").notNullable().defaultTo("");
        t.text("email_error").notNullable().defaultTo("");
      });
    },
  },
];
