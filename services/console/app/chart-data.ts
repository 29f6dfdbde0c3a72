import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { TimeSeries } from "@onerouter/client/gen/onerouter/admin/v1/analytics_pb";
import { currencyDigits } from "./money";

// uPlot draws columns: one x array (seconds) shared by every series and one
// y array per series, null where a series has no point at that time. Series
// of different currencies are never added together: each keeps its label.

export interface ChartData {
  labels: string[];
  columns: [number[], ...(number | null)[][]];
}

// `minorUnits`: the series carry money in each currency's minor unit, drawn
// in major units (25.00, not 2500) so currencies of other exponents compare.
export function chartDataOf(series: TimeSeries[], options: { minorUnits?: boolean } = {}): ChartData {
  const times = [...new Set(series.flatMap((s) => s.points.map((p) => (p.time ? timestampMs(p.time) / 1000 : 0))))].sort((a, b) => a - b);
  const index = new Map(times.map((time, i) => [time, i]));
  const columns = series.map((s) => {
    const scale = options.minorUnits && s.currency ? 10 ** currencyDigits(s.currency) : 1;
    const column: (number | null)[] = Array.from({ length: times.length }, () => null);
    for (const point of s.points) column[index.get(point.time ? timestampMs(point.time) / 1000 : 0)!] = point.value / scale;
    return column;
  });
  const labels = series.map((s) => [s.provider || "all providers", s.currency].filter(Boolean).join(" · "));
  return { labels, columns: [times, ...columns] };
}

// A chart's points as rows for a table: each time (UTC, to the minute) and
// every series' value there, formatted, or "—" where it has none.
export function chartRows(data: ChartData, format: (value: number) => string): { time: string; values: string[] }[] {
  const [times, ...columns] = data.columns;
  return times.map((time, i) => ({
    time: new Date(time * 1000).toISOString().slice(0, 16).replace("T", " "),
    values: columns.map((column) => (column[i] === null || column[i] === undefined ? "—" : format(column[i]!))),
  }));
}
