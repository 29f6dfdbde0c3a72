import { timingSafeEqual } from "node:crypto";
import type { HttpRoute } from "@onerouter/core";

// One process owns an embedded data folder (see core's data-folder-lock), so
// while the embedded server runs, CLI commands (`keys create`, `members create`, `migrate`,
// `master-key rotate`, `erase-contact`) ask it over loopback instead of
// opening the folder. The token lives in the data folder (server.json, mode
// 0600): only someone who can read that folder can act this way.
export const localAdminPrefix = "/_local/";
export const localTokenHeader = "x-onerouter-local-token";

// An action takes the command's JSON arguments and answers JSON.
export type LocalAdminAction = (args: Record<string, unknown>) => Promise<unknown>;

// What the command's caller got wrong: answered 400 with its message.
export class LocalAdminRefusal extends Error {}

export function localAdminRoute(token: string, actions: Record<string, LocalAdminAction>): HttpRoute {
  const expected = Buffer.from(token);
  const tokenMatches = (given: unknown) =>
    typeof given === "string" && given.length === token.length && timingSafeEqual(Buffer.from(given), expected);
  return {
    pathPrefix: localAdminPrefix,
    async handler(req, res) {
      const remote = req.socket?.remoteAddress ?? "";
      const loopback = remote === "127.0.0.1" || remote === "::1" || remote === "::ffff:127.0.0.1";
      const action = actions[(req.url ?? "").slice(localAdminPrefix.length).split("?")[0]!];
      const answer = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      if (req.method !== "POST" || !loopback || !action || !tokenMatches(req.headers[localTokenHeader])) {
        return answer(404, { error: "not found" });
      }
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      let args: Record<string, unknown>;
      try {
        args = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>;
      } catch {
        return answer(400, { error: "the body must be a JSON object" });
      }
      try {
        answer(200, await action(args));
      } catch (err) {
        answer(err instanceof LocalAdminRefusal ? 400 : 500, { error: err instanceof Error ? err.message : String(err) });
      }
    },
  };
}

// Runs `action` on the server listening on loopback `port`.
export async function callLocalAdmin(server: { port: number; localToken: string }, action: string, args: object): Promise<unknown> {
  const res = await fetch(`http://127.0.0.1:${server.port}${localAdminPrefix}${action}`, {
    method: "POST",
    headers: { "content-type": "application/json", [localTokenHeader]: server.localToken },
    body: JSON.stringify(args),
  });
  const body = (await res.json().catch(() => ({}))) as { error?: string };
  // The command's own mistake, as when the command runs the action itself.
  if (res.status === 400) throw new LocalAdminRefusal(body.error ?? "the running server refused the command");
  if (!res.ok) throw new Error(`the running server refused: ${body.error ?? `HTTP ${res.status}`}`);
  return body;
}
