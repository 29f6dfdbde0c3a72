import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { createApiKey } from "@onerouter/admin";
import type { HttpRoute, Knex } from "@onerouter/core";

// PGlite allows one process per data folder, so while the embedded server
// runs, `onerouter keys create` asks it over loopback instead of opening the
// folder. The token lives in the data folder (mode 0600): only someone who can
// read that folder can mint keys this way.
export const localAdminPath = "/_local/api-keys";

export function localAdminRoute(knex: Knex, tenantId: string, token: string): HttpRoute {
  return {
    pathPrefix: localAdminPath,
    async handler(req, res) {
      const remote = req.socket?.remoteAddress ?? "";
      const loopback = remote === "127.0.0.1" || remote === "::1" || remote === "::ffff:127.0.0.1";
      if (req.method !== "POST" || !loopback || req.headers["x-onerouter-local-token"] !== token) {
        res.writeHead(404, { "content-type": "application/json" });
        return void res.end(JSON.stringify({ code: "not_found" }));
      }
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as { env?: string; name?: string };
      const { secret, row } = await createApiKey(knex, {
        tenantId,
        environment: body.env === "live" ? Environment.LIVE : Environment.TEST,
        name: body.name ?? "CLI key",
        createdBy: "cli",
      });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ id: row.id, secret }));
    },
  };
}
