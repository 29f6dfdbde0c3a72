import { once } from "node:events";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { ErrorInfoSchema } from "@onerouter/client/gen/google/rpc/error_details_pb";
import type { AnalyticsService } from "@onerouter/client/gen/onerouter/admin/v1/analytics_pb";
import { TimeRangeSchema } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { inProcessClientAddressHeader, type HttpRoute } from "@onerouter/core";
import { reportNamed } from "./csv-exports";

// A report as a plain HTTP download for the console and scripts:
// GET /exports/<payments|messages|deliveries|providers|costs>.csv
// ?start_time=<RFC 3339>&end_time=<RFC 3339>. It is StreamCsvExport called
// as the HTTP request's own caller (its Authorization, or session cookie and OneRouter-Environment), so
// it is authenticated and authorized like every call; the chunks go out as
// the client reads them. In the mesh, Envoy has asked the gatekeeper already:
// the identity headers it set (with the mesh secret) are what the call
// carries, for the service's mesh interceptor to believe or refuse.

export const csvDownloadPrefix = "/exports/";

// Connect's codes as HTTP statuses, for an error before the first byte.
const httpStatus: Partial<Record<Code, number>> = {
  [Code.InvalidArgument]: 400,
  [Code.FailedPrecondition]: 400,
  [Code.Unauthenticated]: 401,
  [Code.PermissionDenied]: 403,
  [Code.NotFound]: 404,
  [Code.ResourceExhausted]: 429,
  [Code.Unimplemented]: 501,
  [Code.Unavailable]: 503,
};

type Request = Parameters<HttpRoute["handler"]>[0];
type Response = Parameters<HttpRoute["handler"]>[1];

function timeParameter(url: URL, name: string) {
  const value = url.searchParams.get(name);
  if (value === null || value === "") return undefined;
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) throw new ConnectError(`${name} must be an RFC 3339 time`, Code.InvalidArgument);
  return timestampFromDate(at);
}

function sendError(res: Response, err: unknown) {
  const error = ConnectError.from(err);
  const code = Code[error.code].replace(/[A-Z]/g, (c, i: number) => (i > 0 ? "_" : "") + c.toLowerCase());
  const info = error.findDetails(ErrorInfoSchema)[0];
  const body = JSON.stringify({ code, message: error.rawMessage, ...(info && { reason: info.reason, metadata: info.metadata }) });
  res.writeHead(httpStatus[error.code] ?? 500, { "content-type": "application/json" });
  res.end(body);
}

// The request's credentials the call carries, besides `forwardedHeaders`.
const credentialHeaders = ["authorization", "cookie", "onerouter-environment"];

export function csvDownloadRoute(analytics: Client<typeof AnalyticsService>, forwardedHeaders: readonly string[] = []): HttpRoute {
  const carried = [...credentialHeaders, ...forwardedHeaders];
  return {
    pathPrefix: csvDownloadPrefix,
    async handler(req: Request, res: Response) {
      if (req.method !== "GET") {
        res.writeHead(405, { allow: "GET", "content-type": "application/json" });
        res.end(JSON.stringify({ code: "method_not_allowed", message: "exports are downloaded with GET" }));
        return;
      }
      const aborted = new AbortController();
      res.on("close", () => aborted.abort());
      let started = false;
      try {
        const url = new URL(req.url ?? "/", "http://localhost");
        const name = /^\/exports\/([a-z]+)\.csv$/.exec(url.pathname)?.[1];
        const report = name === undefined ? undefined : reportNamed(name);
        if (report === undefined) throw new ConnectError(`no such export: ${url.pathname}`, Code.NotFound);
        const range = create(TimeRangeSchema, { startTime: timeParameter(url, "start_time"), endTime: timeParameter(url, "end_time") });
        const headers: Record<string, string> = { [inProcessClientAddressHeader]: req.socket?.remoteAddress ?? "" };
        for (const name of carried) {
          const value = req.headers[name];
          if (typeof value === "string") headers[name] = value;
        }
        for await (const part of analytics.streamCsvExport({ report, range }, { headers, signal: aborted.signal })) {
          if (!started) {
            res.writeHead(200, {
              "content-type": "text/csv; charset=utf-8",
              "content-disposition": `attachment; filename="${part.filename}"`,
              "cache-control": "no-store",
            });
            started = true;
          }
          // Waits for the client to take what was written before reading more.
          if (!(res as { write(chunk: Uint8Array): boolean }).write(part.chunk)) await once(res, "drain", { signal: aborted.signal });
        }
        res.end();
      } catch (err) {
        if (!started) sendError(res, err);
        else res.destroy(err instanceof Error ? err : undefined);
      }
    },
  };
}
