import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { ChartData } from "./chart-data";

const palette = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#db2777"];

// A line chart in a figure whose caption names what it shows; the canvas
// itself is hidden from screen readers, which read the tables beside it.
export function LineChart({ title, data, format }: { title: string; data: ChartData; format?: (value: number) => string }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const target = ref.current;
    if (!target) return;
    const plot = new uPlot(
      {
        width: Math.max(320, target.clientWidth || 640),
        height: 220,
        series: [{}, ...data.labels.map((label, i) => ({ label, stroke: palette[i % palette.length], width: 2, spanGaps: true }))],
        axes: [{}, { values: (_u, values) => values.map((v) => (format ? format(v) : String(v))) }],
      },
      data.columns as uPlot.AlignedData,
      target,
    );
    return () => plot.destroy();
  }, [data, format]);
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <div ref={ref} aria-hidden="true" />
    </figure>
  );
}
