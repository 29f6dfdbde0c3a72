import { sandboxProvider, type EmulatorRequest, type ProviderEmulator } from "@onerouter/sandbox";

// The sandbox provider counting what it made: per marker (a payment's
// metadata.chaos_key, a message's text) the distinct payment and message ids
// it answered with. Replays of one provider idempotency key answer with the
// same id, so a count above one is a second charge or a second message.
// GET /_chaos/counts answers the counts.

export interface SandboxCounts {
  payments: Record<string, number>;
  messages: Record<string, number>;
}

export function countingSandbox(): ProviderEmulator & { counts(): SandboxCounts } {
  const provider = sandboxProvider();
  const made = { payments: new Map<string, Set<string>>(), messages: new Map<string, Set<string>>() };

  function markerOf(req: EmulatorRequest): { kind: keyof typeof made; marker: string } | undefined {
    if (req.method !== "POST") return undefined;
    const body = JSON.parse(req.rawBody.toString("utf8") || "{}") as { metadata?: Record<string, string>; body?: string };
    if (req.path === "/v1/payments" && body.metadata?.chaos_key) return { kind: "payments", marker: body.metadata.chaos_key };
    if (req.path === "/v1/messages" && body.body) return { kind: "messages", marker: body.body };
    return undefined;
  }

  const counts = (): SandboxCounts => {
    const of = (kind: keyof typeof made) => Object.fromEntries([...made[kind]].map(([marker, ids]) => [marker, ids.size]));
    return { payments: of("payments"), messages: of("messages") };
  };

  return {
    ...provider,
    counts,
    async handle(req) {
      if (req.method === "GET" && req.path === "/_chaos/counts") return { status: 200, body: counts() };
      const reply = await provider.handle(req);
      const marked = markerOf(req);
      const id = (reply.body as { id?: string } | undefined)?.id;
      if (marked && reply.status === 200 && id) {
        const ids = made[marked.kind].get(marked.marker) ?? new Set<string>();
        ids.add(id);
        made[marked.kind].set(marked.marker, ids);
      }
      return reply;
    },
  };
}
