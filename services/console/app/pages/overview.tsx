import { useQuery } from "@connectrpc/connect-query";
import type { ConnectError } from "@connectrpc/connect";
import { AnalyticsService, Granularity, Metric, type GetTimeSeriesResponse } from "@onerouter/client/gen/onerouter/admin/v1/analytics_pb";
import type { UseQueryResult } from "@tanstack/react-query";
import { Category } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { useMemo } from "react";
import { LineChart } from "../chart";
import { chartDataOf } from "../chart-data";
import { RangePicker, useRange } from "../pickers";
import { formatMoney, formatPercent, Loaded, Page } from "../ui";
import { ProviderComparison } from "../provider-comparison";

export default function Overview() {
  const { name, hours, range } = useRange();
  const granularity = hours > 48 ? Granularity.DAY : Granularity.HOUR;
  const overview = useQuery(AnalyticsService.method.getOverview, { range });
  const volume = useQuery(AnalyticsService.method.getTimeSeries, { metric: Metric.PAYMENT_COUNT, granularity, range, groupByProvider: true });
  const success = useQuery(AnalyticsService.method.getTimeSeries, { metric: Metric.PAYMENT_SUCCESS_RATE, granularity, range, groupByProvider: true });
  const latency = useQuery(AnalyticsService.method.getTimeSeries, { metric: Metric.PROVIDER_LATENCY_P95, granularity, range, groupByProvider: true });
  const providers = useQuery(AnalyticsService.method.compareProviders, { category: Category.PAYMENTS, range });
  return (
    <Page title="Overview" actions={<RangePicker value={name} />}>
      <Loaded query={overview} what="the overview">
        {({ overview: o }) => (
          <div className="cards">
            <Stat label="Payments" value={o?.paymentCount.toString() ?? "0"} />
            <Stat label="Success rate" value={formatPercent(o?.paymentSuccessRate ?? 0)} />
            <Stat label="Volume" value={o?.paymentVolume.map((v) => formatMoney(v.amount, v.currency)).join(" · ") || "—"} />
            <Stat label="Failovers" value={o?.failoverCount.toString() ?? "0"} />
            <Stat label="Messages delivered" value={formatPercent(o?.messageDeliveryRate ?? 0)} />
          </div>
        )}
      </Loaded>
      <div className="charts">
        <SeriesChart title="Payments by provider" query={volume} />
        <SeriesChart title="Success rate by provider" query={success} format={formatPercent} />
        <SeriesChart title="Latency p95 by provider (ms)" query={latency} />
      </div>
      <h2>Providers</h2>
      <ProviderComparison query={providers} />
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
  return (
    <Loaded query={query} what={title.toLowerCase()} isEmpty={() => !data || data.columns[0].length === 0} empty={`${title}: no data in this range.`}>
      {() => <LineChart title={title} data={data!} format={format} />}
    </Loaded>
  );
}

function Stat({ label, value }: { label: string; value: string }) {
  return (
    <div className="stat">
      <span>{label}</span>
      <strong>{value}</strong>
    </div>
  );
}
