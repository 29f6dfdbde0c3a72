import { createHash } from "node:crypto";
import { generateEventWebhookKeys, signEventBody } from "@onerouter/emulators/sendgrid/events";
import { startEmulator, type RunningEmulator } from "@onerouter/sandbox";
import { mailgunSignature } from "@onerouter/emulators/mailgun/webhooks";
import { paypalEmulator } from "@onerouter/emulators/paypal/index";
import { razorpayWebhookSignature } from "@onerouter/emulators/razorpay/webhooks";
import { signStripePayload } from "@onerouter/emulators/stripe/signature";
import { signTwilioRequest } from "@onerouter/emulators/twilio/signature";
import { signVonageParams } from "@onerouter/emulators/vonage/signature";
import { inboundWebhookPath } from "@onerouter/routing";
import type { ProviderCategory } from "@onerouter/routing";
import type { TestOneRouter } from "@onerouter/server/testing";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordReliability } from "../reliability/record";
import { fuzzSeed, Rng } from "./corpus";
import { runAll } from "./tally";
import { startFuzzTarget, type FuzzTarget } from "./target";
import { Wire, type RawRequest } from "./wire";

// Every inbound webhook route (every provider) under forged, missing and
// mutated signatures, broken paths and bodies: never a 5xx, and nothing
// forged changes any state.

const perProvider = 130;
const secret = "whsec_fuzz_real_secret_0123456789";
const wrongSecret = "whsec_fuzz_wrong_secret_987654321";

// Tables a webhook could change, with what identifies a row's state.
const stateTables = [
  "inbound_provider_events",
  "payments",
  "payment_attempts",
  "refunds",
  "messages",
  "message_attempts",
  "outbox_events",
];

async function snapshot(app: TestOneRouter): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of stateTables) {
    const rows = await app.db.knex(table).select();
    out[table] = `${rows.length}:${createHash("sha256").update(JSON.stringify(rows)).digest("hex").slice(0, 16)}`;
  }
  return out;
}

interface Provider {
  name: string;
  category: ProviderCategory;
  credentialKeys: readonly string[];
}

const sendgridKeys = generateEventWebhookKeys();
const forgerKeys = generateEventWebhookKeys();

// Headers (and for some providers the body) a forger would send: signed
// with the wrong secret or key, or signed right over another body.
function forge(provider: string, body: string, url: string, key: string, rng: Rng): { body: string; headers: Record<string, string> } {
  const now = Math.floor(Date.now() / 1000);
  const form = () => Object.fromEntries(new URLSearchParams(body));
  switch (provider) {
    case "stripe":
      return { body, headers: { "stripe-signature": signStripePayload(rng.chance(0.5) ? `${body} ` : body, key, now + rng.pick([0, -3600, 3600])) } };
    case "razorpay":
      return { body, headers: { "x-razorpay-signature": razorpayWebhookSignature(body, key), "x-razorpay-event-id": `evt_${rng.int(1e9)}` } };
    case "twilio":
      return { body, headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signTwilioRequest(key, url, form()) } };
    case "vonage": {
      const params = { ...form(), timestamp: String(now) };
      const signed = new URLSearchParams({ ...params, sig: signVonageParams(params, key, "md5hash") }).toString();
      return { body: signed, headers: { "content-type": "application/x-www-form-urlencoded" } };
    }
    case "mailgun": {
      const token = String(rng.int(1e12));
      const signature = { timestamp: String(now), token, signature: mailgunSignature(key, String(now), token) };
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        parsed = body;
      }
      return { body: JSON.stringify({ signature, "event-data": parsed }), headers: { "content-type": "application/json" } };
    }
    case "sendgrid":
      return { body, headers: signEventBody(body, now, forgerKeys.privateKey) };
    case "paypal":
      return {
        body,
        headers: {
          "paypal-transmission-id": String(rng.int(1e9)),
          "paypal-transmission-time": new Date().toISOString(),
          "paypal-transmission-sig": Buffer.from(String(rng.next())).toString("base64"),
          "paypal-cert-url": "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-forged",
          "paypal-auth-algo": "SHA256withRSA",
        },
      };
    default:
      // The built-in sandbox signs like Standard Webhooks.
      return { body, headers: { "sandbox-signature": `t=${now},v1=${createHash("sha256").update(key + body).digest("hex")}` } };
  }
}

// Mailgun and Vonage sign inside the body: the signature there is broken.
function garbleBodySignature(provider: string, body: string): string {
  if (provider === "mailgun") {
    const parsed = JSON.parse(body) as { signature: { signature: string } };
    const sig = parsed.signature.signature;
    parsed.signature.signature = `${sig.startsWith("0") ? "1" : "0"}${sig.slice(1)}`;
    return JSON.stringify(parsed);
  }
  if (provider === "vonage") {
    const params = new URLSearchParams(body);
    params.set("sig", "0".repeat(32));
    return params.toString();
  }
  return body;
}

const eventArb = fc.oneof(
  fc.record({
    id: fc.oneof(fc.string(), fc.constant("evt_\u0000")),
    type: fc.constantFrom("payment_intent.succeeded", "charge.refunded", "payment.captured", "PAYMENT.CAPTURE.COMPLETED", "delivered", "x"),
    event: fc.constantFrom("payment.captured", "refund.processed", "delivered", "failed"),
    data: fc.record({ object: fc.record({ id: fc.string(), status: fc.string(), metadata: fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 }) }) }),
  }),
  fc.array(fc.record({ sg_message_id: fc.string(), event: fc.constantFrom("delivered", "bounce"), timestamp: fc.integer() }), { maxLength: 3 }),
  fc.anything(),
);

describe("fuzz: inbound webhooks", () => {
  let target: FuzzTarget;
  let app: TestOneRouter;
  let paypal: RunningEmulator;
  let wire: Wire;
  const accounts = new Map<string, string>();
  let providers: Provider[] = [];

  beforeAll(async () => {
    target = await startFuzzTarget();
    ({ app, wire } = target);
    paypal = await startEmulator(paypalEmulator());
    app.providerOutbound.allowBaseUrls(paypal.url);
    providers = [...app.payments.providerDescriptors(), ...app.messaging.providerDescriptors()];
    for (const p of providers) {
      const credentials = Object.fromEntries(p.credentialKeys.map((k) => [k, secret]));
      if (p.name === "sendgrid") credentials.event_webhook_public_key = sendgridKeys.publicKey;
      const settings: Record<string, string> = p.name === "paypal" ? { base_url: paypal.url } : {};
      const created = await app.accounts.create({
        tenantId: app.defaultTenantId,
        environment: "test",
        category: p.category,
        provider: p.name,
        displayName: `${p.name} fuzz`,
        enabled: true,
        credentials,
        settings,
      });
      accounts.set(p.name, created.id);
    }
  });
  afterAll(async () => {
    await target?.close();
    await paypal?.close();
  });

  it("refuses every forged or broken webhook without a 5xx or a state change", async () => {
    const startedAt = Date.now();
    const seed = fuzzSeed();
    const rng = new Rng(seed);
    const before = await snapshot(app);
    const counts = { requests: 0, http5xx: 0, accepted: 0, unanswered: 0 };
    const samples: string[] = [];
    const tasks: (() => Promise<void>)[] = [];
    for (const p of providers) {
      const events = fc.sample(eventArb, { numRuns: perProvider, seed });
      const accountId = accounts.get(p.name)!;
      events.forEach((event, i) => {
        const goodPath = inboundWebhookPath(p.name, accountId);
        const path = rng.chance(0.8)
          ? goodPath
          : rng.pick([
              `/webhooks/inbound/${p.name}/%E0%A4%A`,
              `/webhooks/inbound/${p.name}/%zz`,
              `/webhooks/inbound/${p.name}/acct%00x`,
              `/webhooks/inbound/${p.name}/${accountId}%2Fx`,
              `/webhooks/inbound/${p.name}/pa_unknown`,
              `/webhooks/inbound/${p.name}/${accounts.get(p.name === "stripe" ? "razorpay" : "stripe")}`,
              `${goodPath}?x=%ZZ`,
            ]);
        const json = JSON.stringify(event ?? null) ?? "null";
        const text =
          p.name === "twilio" || p.name === "vonage"
            ? new URLSearchParams({ MessageSid: String(i), MessageStatus: "delivered", messageId: String(i), status: "delivered" }).toString()
            : json;
        const url = `${app.baseUrl}${path}`;
        const variant = i % 4;
        let forged: { body: string; headers: Record<string, string> };
        if (variant === 0) forged = { body: text, headers: {} };
        else if (variant === 1) forged = forge(p.name, text, url, wrongSecret, rng);
        else if (variant === 2) {
          // Signed right, then the body is changed.
          const signed = forge(p.name, text, url, secret, rng);
          forged = { headers: signed.headers, body: `${signed.body.slice(0, -1)}${signed.body.endsWith("x") ? "y" : "x"}` };
        } else {
          // Signature headers present but garbage.
          const shape = forge(p.name, text, url, secret, rng);
          forged = {
            body: garbleBodySignature(p.name, shape.body),
            headers: Object.fromEntries(Object.entries(shape.headers).map(([k, v]) => [k, k === "content-type" ? v : rng.pick(["", "t=1,v1=00", "\u00ff", v.slice(1), "%"])])),
          };
        }
        const method = rng.chance(0.95) ? "POST" : "GET";
        const oversize = method === "POST" && rng.chance(0.03);
        const request: RawRequest = {
          // Over h2 the unread rest of a refused oversize body counts against the
          // client's whole session, so oversize bodies go over HTTP/1.1.
          httpVersion: oversize || rng.chance(0.5) ? "h1" : "h2",
          method,
          path,
          headers: { "content-type": "application/json", ...Object.fromEntries(Object.entries(forged.headers).filter(([, v]) => /^[\t\x20-\x7e]*$/.test(v))) },
          body: method === "GET" ? Buffer.alloc(0) : oversize ? Buffer.alloc(1024 * 1024 + 10, 0x7b) : Buffer.from(forged.body),
          withLength: rng.chance(0.5),
        };
        tasks.push(async () => {
          counts.requests += 1;
          const label = `${p.name} ${request.method} ${path} variant ${variant}`;
          try {
            const res = await wire.send(request);
            if (res.status >= 500) {
              counts.http5xx += 1;
              if (samples.length < 30) samples.push(`${label}: HTTP ${res.status} ${res.body.toString("utf8").slice(0, 200)}`);
            }
            if (res.status === 200) {
              counts.accepted += 1;
              samples.unshift(`${label}: accepted ${res.body.toString("utf8").slice(0, 200)}`);
            }
          } catch (err) {
            // Past the body limit the server answers 413 without reading the
            // rest; a client still writing may see the connection close first.
            if (oversize) return;
            counts.unanswered += 1;
            if (samples.length < 30) samples.push(`${label}: no answer (${(err as Error).message})`);
          }
        });
      });
    }
    await runAll(tasks, 16);
    const after = await snapshot(app);
    const changed = stateTables.filter((t) => before[t] !== after[t]);
    const what = `forged, unsigned and mutated webhooks to ${providers.length} providers' inbound routes`;
    recordReliability({
      suite: "fuzz-webhooks",
      source: "test/fuzz/webhooks.test.ts",
      durationMs: Date.now() - startedAt,
      rows: [
        { check: `${what}: answered`, tried: counts.requests, expected: "0 without an answer", found: `${counts.unanswered} without an answer`, ok: counts.unanswered === 0 },
        { check: `${what}: no server errors`, tried: counts.requests, expected: "0 HTTP 5xx", found: `${counts.http5xx} HTTP 5xx`, ok: counts.http5xx === 0 },
        { check: `${what}: refused`, tried: counts.requests, expected: "0 accepted", found: `${counts.accepted} accepted`, ok: counts.accepted === 0 },
        {
          check: `${what}: state unchanged (${stateTables.length} tables snapshotted before and after)`,
          tried: stateTables.length,
          expected: "0 tables changed",
          found: changed.length === 0 ? "0 tables changed" : `changed: ${changed.join(", ")}`,
          ok: changed.length === 0,
        },
      ],
    });
    const report = `seed ${seed}:\n${samples.join("\n")}`;
    expect(counts.requests).toBeGreaterThanOrEqual(providers.length * perProvider);
    expect({ ...counts, requests: 0, changed }, report).toEqual({ requests: 0, http5xx: 0, accepted: 0, unanswered: 0, changed: [] });
  }, 120_000);
});
