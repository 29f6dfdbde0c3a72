import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  AnalyticsService,
  CompareProvidersResponseSchema,
  ExportCsvResponseSchema,
  GetCostsResponseSchema,
  GetOverviewResponseSchema,
  GetTimeSeriesResponseSchema,
  Granularity,
  ListFailoversResponseSchema,
  ListTopErrorsResponseSchema,
  Metric,
  StreamCsvExportResponseSchema,
} from "@onerouter/client/gen/onerouter/admin/v1/analytics_pb";
import { Category } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { environmentName, failedPrecondition, invalidArgument, requireCaller, validTimeRange, type Knex } from "@onerouter/core";
import { csvExport } from "./csv-exports";
import { AnalyticsReader, type AnalyticsScope } from "./rollup-reads";

// ExportCsv answers in one message, so it is for small ranges; past this a
// caller streams (StreamCsvExport or the download route).
const exportCsvMaxBytes = 8 * 1024 * 1024;

export function analyticsScope(ctx: HandlerContext): AnalyticsScope {
  const caller = requireCaller(ctx);
  return { tenantId: caller.tenantId, environment: environmentName(caller.environment) };
}

function knownCategory(category: Category, field: string): Category {
  if (!Object.values(Category).includes(category)) throw invalidArgument(field, "must be a Category or CATEGORY_UNSPECIFIED for all");
  return category;
}

export function analyticsService(knex: Knex): ServiceImpl<typeof AnalyticsService> {
  const reader = new AnalyticsReader(knex);
  return {
    async getOverview(req, ctx) {
      return create(GetOverviewResponseSchema, { overview: await reader.overview(analyticsScope(ctx), validTimeRange("range", req.range)) });
    },

    async getTimeSeries(req, ctx) {
      const scope = analyticsScope(ctx);
      if (req.metric === Metric.UNSPECIFIED || !Object.values(Metric).includes(req.metric)) throw invalidArgument("metric", "must name a Metric");
      if (req.granularity !== Granularity.HOUR && req.granularity !== Granularity.DAY) {
        throw invalidArgument("granularity", "must be GRANULARITY_HOUR or GRANULARITY_DAY");
      }
      const range = validTimeRange("range", req.range);
      const series = await reader.timeSeries(scope, { metric: req.metric, granularity: req.granularity, range, groupByProvider: req.groupByProvider });
      return create(GetTimeSeriesResponseSchema, { series });
    },

    async compareProviders(req, ctx) {
      const scope = analyticsScope(ctx);
      const providers = await reader.compareProviders(scope, knownCategory(req.category, "category"), validTimeRange("range", req.range));
      return create(CompareProvidersResponseSchema, { providers });
    },

    async getCosts(req, ctx) {
      return create(GetCostsResponseSchema, await reader.costs(analyticsScope(ctx), validTimeRange("range", req.range)));
    },

    async listTopErrors(req, ctx) {
      const scope = analyticsScope(ctx);
      if (req.limit < 0 || req.limit > 100) throw invalidArgument("limit", "must be between 0 and 100");
      const errors = await reader.topErrors(scope, knownCategory(req.category, "category"), validTimeRange("range", req.range), req.limit || 20);
      return create(ListTopErrorsResponseSchema, { errors });
    },

    async listFailovers(req, ctx) {
      const scope = analyticsScope(ctx);
      if (req.pageSize > 100) throw invalidArgument("page_size", "must be at most 100");
      const page = await reader.failovers(scope, knownCategory(req.category, "category"), validTimeRange("range", req.range), req);
      return create(ListFailoversResponseSchema, page);
    },

    async exportCsv(req, ctx) {
      const { filename, chunks } = csvExport(knex, reader, analyticsScope(ctx), req.report, validTimeRange("range", req.range));
      const parts: Buffer[] = [];
      let size = 0;
      for await (const chunk of chunks) {
        const bytes = Buffer.from(chunk);
        size += bytes.length;
        if (size > exportCsvMaxBytes) {
          await chunks.return(undefined);
          throw failedPrecondition(
            "EXPORT_TOO_LARGE",
            `the export is larger than ${exportCsvMaxBytes} bytes: use StreamCsvExport or GET /exports/<report>.csv, or a shorter range`,
            { max_bytes: String(exportCsvMaxBytes) },
          );
        }
        parts.push(bytes);
      }
      return create(ExportCsvResponseSchema, { filename, content: Buffer.concat(parts) });
    },

    async *streamCsvExport(req, ctx) {
      const { filename, chunks } = csvExport(knex, reader, analyticsScope(ctx), req.report, validTimeRange("range", req.range));
      let first = true;
      for await (const chunk of chunks) {
        yield create(StreamCsvExportResponseSchema, { ...(first && { filename }), chunk: Buffer.from(chunk) });
        first = false;
      }
    },
  };
}
