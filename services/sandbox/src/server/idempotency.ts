import { createHash } from "node:crypto";
import type { EmulatorReply, EmulatorRequest } from "../emulator-harness";
import type { SandboxAccount } from "./account";
import { errorReply, header } from "./wire";

// Stripe's semantics, per account: a replay returns the stored answer; the
// same key on a different request is refused.
export function idempotent(account: SandboxAccount, req: EmulatorRequest, run: () => EmulatorReply): EmulatorReply {
  const key = header(req.headers, "idempotency-key");
  if (!key) return run();
  const fingerprint = createHash("sha256").update(`${req.method} ${req.path}\n`).update(req.rawBody).digest("hex");
  const stored = account.idempotentReply(key);
  if (stored) {
    if (stored.fingerprint !== fingerprint) {
      return errorReply(409, "idempotency_error", "idempotency_key_reused", `Idempotency-Key ${key} was used for a different request`);
    }
    return { ...stored.reply, headers: { ...stored.reply.headers, "idempotent-replayed": "true" } };
  }
  const reply = run();
  account.keepIdempotentReply(key, fingerprint, reply);
  return reply;
}
