import { createHash } from "node:crypto";
import type http from "node:http";
import type http2 from "node:http2";
import type { Knex } from "knex";
import { ConnectorError, type WebhookInput, type WebhookNonces } from "./connector-kit";
import { InboundEventRecorder, type InboundEvent, type WebhookOutcome } from "./inbound-events";
import type { ProviderAccountStore, ProviderAccountWithCredentials, ProviderCategory } from "./provider-accounts";
import type { HttpRoute, Sql } from "@onerouter/core";

// POST /webhooks/inbound/<provider>/<providerAccountId>: where each provider
// account's webhooks (payment events, message delivery callbacks) arrive.
// The account id in the URL is the routing key, whatever the tenant; the
// provider's signature is checked against that account's credentials. 200
// means stored (or already stored) and applied, so the provider stops
// retrying; anything else it retries. Each room serves the route for its
// own providers and applies the events to its own tables through hooks; the
// route records them in routing's inbound_provider_events.

const maxBodyBytes = 1024 * 1024;

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

// What the route answers instead of 200.
export class WebhookRejected extends Error {
  constructor(
    readonly status: 400 | 404,
    message: string,
  ) {
    super(message);
  }
}

export function inboundWebhookPath(provider: string, accountId: string): string {
  return `/webhooks/inbound/${encodeURIComponent(provider)}/${encodeURIComponent(accountId)}`;
}

// The nonces of inbound webhook signatures, per provider account, in the
// database: a nonce used once is refused on other content by every process,
// after restarts too, until its signature expires.
export class WebhookNonceStore {
  constructor(private readonly knex: Knex) {}

  forAccount(providerAccountId: string): WebhookNonces {
    return { claim: (nonce, body, expiresAt) => this.claim(providerAccountId, nonce, body, expiresAt) };
  }

  private async claim(providerAccountId: string, nonce: string, body: Buffer, expiresAt: Date): Promise<boolean> {
    const bodySha256 = createHash("sha256").update(body).digest("hex");
    const table = () => this.knex("inbound_webhook_nonces");
    // Expired nonces can no longer come with a valid signature.
    await table().where({ provider_account_id: providerAccountId }).andWhere("expires_at", "<", new Date()).delete();
    const inserted = await table()
      .insert({ provider_account_id: providerAccountId, nonce, body_sha256: bodySha256, expires_at: expiresAt })
      .onConflict(["provider_account_id", "nonce"])
      .ignore()
      .returning("nonce");
    if (inserted.length > 0) return true;
    const first = (await table().where({ provider_account_id: providerAccountId, nonce }).first("body_sha256")) as
      | { body_sha256: string }
      | undefined;
    return first?.body_sha256 === bodySha256;
  }
}

// What a room gives the inbound route of its providers.
export interface InboundEventHooks<E extends InboundEvent> {
  category: ProviderCategory;
  providers: readonly string[];
  knex: Knex;
  accounts: ProviderAccountStore;
  // Verifies the signature with the account's credentials (throwing the
  // connector's invalid_signature) and reads the events in the body.
  parse(account: ProviderAccountWithCredentials, input: WebhookInput): Promise<readonly E[]>;
  // Applies a newly stored event to the room's own tables, inside the
  // transaction that stores it.
  apply(trx: Knex.Transaction, account: ProviderAccountWithCredentials, event: E): Promise<void>;
  // A condition on the room's tables, true when applying the event would
  // change nothing (the provider reports a state already recorded): such an
  // event is stored in the statement that checks it, with no transaction.
  // Never true when apply would change something. Undefined: always applied.
  nothingToApply?(account: ProviderAccountWithCredentials, event: E): Sql | undefined;
}

// One route per provider of the room.
export function inboundEventRoutes<E extends InboundEvent>(hooks: InboundEventHooks<E>, nonces: WebhookNonceStore): HttpRoute[] {
  const recorder = new InboundEventRecorder(hooks.knex);
  const receive = async (provider: string, accountId: string, input: WebhookInput): Promise<WebhookOutcome> => {
    const account = await webhookAccount(hooks.accounts, hooks.category, provider, accountId);
    const events = await verifiedWebhook(() => hooks.parse(account, input));
    return recorder.record(
      account,
      events,
      input.rawBody,
      (trx, event) => hooks.apply(trx, account, event),
      hooks.nothingToApply && ((event) => hooks.nothingToApply!(account, event)),
    );
  };
  return hooks.providers.map((provider) => {
    const pathPrefix = `/webhooks/inbound/${provider}/`;
    return {
      pathPrefix,
      async handler(req, res) {
        const path = (req.url ?? "/").split("?")[0] ?? "/";
        const accountId = accountIdOf(path.slice(pathPrefix.length));
        if (accountId === undefined) return reply(res, 400, { error: "the account id in the path is not valid percent-encoding" });
        if (!accountIdPattern.test(accountId)) return reply(res, 404, { error: "no such provider account" });
        if (req.method !== "POST") return reply(res, 405, { error: "webhooks are POSTed" });
        const rawBody = await readBody(req);
        if (!rawBody) return reply(res, 413, { error: `the body exceeds ${maxBodyBytes} bytes` });
        try {
          const input = { rawBody, headers: plainHeaders(req), url: fullUrl(req), nonces: nonces.forAccount(accountId) };
          const outcome = await receive(provider, accountId, input);
          reply(res, 200, { received: true, duplicate: outcome === "duplicate" });
        } catch (err) {
          if (!(err instanceof WebhookRejected)) throw err;
          reply(res, err.status, { error: err.message });
        }
      },
    };
  });
}

// The account a webhook URL names, with its credentials to verify the
// signature; 404 unless it is an account of this provider and category.
async function webhookAccount(
  accounts: ProviderAccountStore,
  category: ProviderCategory,
  provider: string,
  accountId: string,
): Promise<ProviderAccountWithCredentials> {
  const found = await accounts.findWithCredentials(accountId);
  const account = found?.provider === provider && found.category === category ? found : undefined;
  if (!account) throw new WebhookRejected(404, `no ${provider} ${category} account ${accountId}`);
  return account;
}

// Runs the connector's verification; a signature it refuses is a 400.
async function verifiedWebhook<T>(parse: () => Promise<T>): Promise<T> {
  try {
    return await parse();
  } catch (err) {
    if (err instanceof ConnectorError && err.kind === "invalid_signature") throw new WebhookRejected(400, err.message);
    throw err;
  }
}

// Account ids are generated (prefix, underscore, base32); anything else,
// such as a slash or a NUL, names no account and never reaches the database.
const accountIdPattern = /^[A-Za-z0-9_-]{1,100}$/;

// undefined when the segment is not valid percent-encoding.
function accountIdOf(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

async function readBody(req: Request): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBodyBytes) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

// Lower-cased names (Node gives them so), HTTP/2 pseudo-headers left out.
function plainHeaders(req: Request): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith(":") || value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return headers;
}

// The URL as the provider called it, for schemes that sign it.
function fullUrl(req: Request): string {
  const proto = String(req.headers["x-forwarded-proto"] ?? "http").split(",")[0]!.trim();
  const host = req.headers.host ?? req.headers[":authority"] ?? "localhost";
  return `${proto}://${String(host)}${req.url ?? "/"}`;
}

function reply(res: Response, status: number, body: object): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}
