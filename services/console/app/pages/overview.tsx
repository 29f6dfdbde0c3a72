import { useQuery } from "@connectrpc/connect-query";
import type { ConnectError } from "@connectrpc/connect";
import { AnalyticsService, Granularity, Metric, type GetTimeSeriesResponse, type Savings } from "@onerouter/client/gen/onerouter/admin/v1/analytics_pb";
import type { UseQueryResult } from "@tanstack/react-query";
import { Category } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { lazy, Suspense, useMemo } from "react";
import { chartDataOf } from "../chart-data";
import { RangePicker, useRange } from "../pickers";
import { formatMicros, formatMoney, formatPercent, Loaded, Loading, Page } from "../ui";
import { ProviderComparison } from "../provider-comparison";

export default function Overview() {
  const { name, hours, range } = useRange();
  const granularity = hours > 48 ? Granularity.DAY : Granularity.HOUR;
  const overview = useQuery(AnalyticsService.method.getOverview, { range });
  const span = useMemo((): [number, number] => [Number(range.startTime.seconds), Number(range.endTime.seconds)], [range]);
  // The cards first: the series, costs and comparison ask once the cards
  // have answered, so the headline numbers never queue behind them.
  const after = { enabled: !overview.isPending };
  const series = (metric: Metric) => ({ metric, granularity, range, groupByProvider: true });
  const volume = useQuery(AnalyticsService.method.getTimeSeries, series(Metric.PAYMENT_VOLUME), after);
  const success = useQuery(AnalyticsService.method.getTimeSeries, series(Metric.PAYMENT_SUCCESS_RATE), after);
  const latency = useQuery(AnalyticsService.method.getTimeSeries, series(Metric.PROVIDER_LATENCY_P95), after);
  const cost = useQuery(AnalyticsService.method.getTimeSeries, series(Metric.COST), after);
  const costs = useQuery(AnalyticsService.method.getCosts, { range }, after);
  const providers = useQuery(AnalyticsService.method.compareProviders, { category: Category.PAYMENTS, range }, after);
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
            <Stat label="Saved by routing" value={costs.data ? savedByRouting(costs.data.savings) : "…"} />
          </div>
        )}
      </Loaded>
      <div className="charts">
        <SeriesChart title="Volume by provider" unit="amount, by currency" span={span} query={volume} minorUnits />
        <SeriesChart title="Success rate by provider" unit="% succeeded" span={span} query={success} format={formatPercent} yMax={1} />
        <SeriesChart title="Latency p95 by provider" unit="ms" span={span} query={latency} />
        <SeriesChart title="Provider fees by provider" unit="fees, by currency" span={span} query={cost} />
      </div>
      <h2>Providers</h2>
      <ProviderComparison query={providers} />
    </Page>
  );
}

// The charting library loads with the first chart, not before the cards.
const LineChart = lazy(() => import("../chart").then(({ LineChart }) => ({ default: LineChart })));

function SeriesChart({
  title,
  unit,
  query,
  minorUnits,
  ...chart
}: {
  title: string;
  unit: string;
  span: [number, number];
  yMax?: number;
  query: UseQueryResult<GetTimeSeriesResponse, ConnectError>;
  format?: (value: number) => string;
  minorUnits?: boolean;
}) {
  const data = useMemo(() => (query.data ? chartDataOf(query.data.series, { minorUnits }) : undefined), [query.data, minorUnits]);
  return (
    <Loaded query={query} what={title.toLowerCase()} isEmpty={() => !data || data.columns[0].length === 0} empty={`${title}: no data in this range.`}>
      {() => (
        <Suspense fallback={<Loading what={title.toLowerCase()} />}>
          <LineChart title={title} unit={unit} data={data!} {...chart} />
        </Suspense>
      )}
    </Loaded>
  );
}

// What routing saved against the most expensive eligible provider, per currency.
function savedByRouting(savings: Savings[]): string {
  const byCurrency = new Map<string, bigint>();
  for (const s of savings) byCurrency.set(s.currency, (byCurrency.get(s.currency) ?? 0n) + s.savedVsHighestMicros);
  return (
    [...byCurrency]
      .filter(([, micros]) => micros > 0n)
      .map(([currency, micros]) => formatMicros(micros, currency))
      .join(" · ") || "—"
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
