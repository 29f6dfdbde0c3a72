import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { useQuery } from "@connectrpc/connect-query";
import type { ConnectError } from "@connectrpc/connect";
import { AnalyticsService, Granularity, Metric, type GetTimeSeriesResponse } from "@onerouter/client/gen/onerouter/admin/v1/analytics_pb";
import type { UseQueryResult } from "@tanstack/react-query";
import { Category } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { useMemo } from "react";
import { LineChart } from "../chart";
import { chartDataOf } from "../chart-data";
import { setQuery, useLocation } from "../router";
import { Empty, ErrorState, formatDuration, formatMoney, Loading, Page } from "../ui";

const ranges: Record<string, number> = { "24h": 24, "7d": 24 * 7, "30d": 24 * 30 };

export function useRange() {
  const { query } = useLocation();
  const name = query.get("range") ?? "7d";
  const hours = ranges[name] ?? ranges["7d"]!;
  // Rounded to the minute so the query key, and the cache, stay put while the page is open.
  const end = Math.ceil(Date.now() / 60_000) * 60_000;
  return {
    name,
    hours,
    range: useMemo(() => ({ startTime: timestampFromMs(end - hours * 3600_000), endTime: timestampFromMs(end) }), [end, hours]),
  };
}

export function RangePicker({ value }: { value: string }) {
  return (
    <label>
      Range
      <select value={value} onChange={(e) => setQuery({ range: e.target.value })}>
        {Object.keys(ranges).map((name) => (
          <option key={name}>{name}</option>
        ))}
      </select>
    </label>
  );
}

export default function Overview() {
  const { name, hours, range } = useRange();
  const granularity = hours > 48 ? Granularity.DAY : Granularity.HOUR;
  const overview = useQuery(AnalyticsService.method.getOverview, { range });
  const volume = useQuery(AnalyticsService.method.getTimeSeries, { metric: Metric.PAYMENT_COUNT, granularity, range, groupByProvider: true });
  const success = useQuery(AnalyticsService.method.getTimeSeries, { metric: Metric.PAYMENT_SUCCESS_RATE, granularity, range, groupByProvider: true });
  const latency = useQuery(AnalyticsService.method.getTimeSeries, { metric: Metric.PROVIDER_LATENCY_P95, granularity, range, groupByProvider: true });
  const providers = useQuery(AnalyticsService.method.compareProviders, { category: Category.PAYMENTS, range });
  const percent = (value: number) => `${(value * 100).toFixed(1)}%`;
  return (
    <Page title="Overview" actions={<RangePicker value={name} />}>
      {overview.isPending ? (
        <Loading what="the overview" />
      ) : overview.error ? (
        <ErrorState error={overview.error} what="the overview" />
      ) : (
        <div className="cards">
          <div className="stat">
            <span>Payments</span>
            <strong>{overview.data.overview?.paymentCount.toString() ?? "0"}</strong>
          </div>
          <div className="stat">
            <span>Success rate</span>
            <strong>{percent(overview.data.overview?.paymentSuccessRate ?? 0)}</strong>
          </div>
          <div className="stat">
            <span>Volume</span>
            <strong>
              {overview.data.overview?.paymentVolume.map((v) => formatMoney(v.amount, v.currency)).join(" · ") || "—"}
            </strong>
          </div>
          <div className="stat">
            <span>Failovers</span>
            <strong>{overview.data.overview?.failoverCount.toString() ?? "0"}</strong>
          </div>
          <div className="stat">
            <span>Messages delivered</span>
            <strong>{percent(overview.data.overview?.messageDeliveryRate ?? 0)}</strong>
          </div>
        </div>
      )}
      <div className="charts">
        <SeriesChart title="Payments by provider" query={volume} />
        <SeriesChart title="Success rate by provider" query={success} format={percent} />
        <SeriesChart title="Latency p95 by provider (ms)" query={latency} />
      </div>
      <h2>Providers</h2>
      {providers.isPending ? (
        <Loading what="providers" />
      ) : providers.error ? (
        <ErrorState error={providers.error} what="providers" />
      ) : providers.data.providers.length === 0 ? (
        <Empty>No provider calls in this range.</Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Provider</th>
              <th scope="col">Attempts</th>
              <th scope="col">Success rate</th>
              <th scope="col">Latency p50</th>
              <th scope="col">Latency p95</th>
              <th scope="col">Fees</th>
            </tr>
          </thead>
          <tbody>
            {providers.data.providers.map((p) => (
              <tr key={p.providerAccountId || p.provider}>
                <td>{p.provider}</td>
                <td className="num">{p.attemptCount.toString()}</td>
                <td className="num">{percent(p.successRate)}</td>
                <td className="num">{formatDuration(p.latencyP50)}</td>
                <td className="num">{formatDuration(p.latencyP95)}</td>
                <td>{p.fees.map((f) => formatMoney(f.amount, f.currency)).join(" · ") || "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}

function SeriesChart({
  title,
  query,
  format,
}: {
  title: string;
  query: UseQueryResult<GetTimeSeriesResponse, ConnectError>;
  format?: (value: number) => string;
}) {
  const data = useMemo(() => (query.data ? chartDataOf(query.data.series) : undefined), [query.data]);
  if (query.isPending) return <Loading what={title.toLowerCase()} />;
  if (query.error) return <ErrorState error={query.error} what={title.toLowerCase()} />;
  if (!data || data.columns[0].length === 0) return <Empty>{title}: no data in this range.</Empty>;
  return <LineChart title={title} data={data} format={format} />;
}
