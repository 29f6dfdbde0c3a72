import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { TimeSeries } from "@onerouter/client/gen/onerouter/admin/v1/analytics_pb";

// uPlot draws columns: one x array (seconds) shared by every series and one
// y array per series, null where a series has no point at that time. Series
// of different currencies are never added together: each keeps its label.

export interface ChartData {
  labels: string[];
  columns: [number[], ...(number | null)[][]];
}

export function chartDataOf(series: TimeSeries[]): ChartData {
  const times = [...new Set(series.flatMap((s) => s.points.map((p) => (p.time ? timestampMs(p.time) / 1000 : 0))))].sort((a, b) => a - b);
  const index = new Map(times.map((time, i) => [time, i]));
  const columns = series.map((s) => {
    const column: (number | null)[] = Array.from({ length: times.length }, () => null);
    for (const point of s.points) column[index.get(point.time ? timestampMs(point.time) / 1000 : 0)!] = point.value;
    return column;
  });
  const labels = series.map((s) => [s.provider || "all providers", s.currency].filter(Boolean).join(" · "));
  return { labels, columns: [times, ...columns] };
}
