import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { chartRows, type ChartData } from "./chart-data";

// Colours by series index; the legend's swatches use the same ones (classes
// .series-0 … .series-5 in styles.css, since the CSP allows no inline style).
const palette = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#db2777"];

const plain = (value: number) => value.toLocaleString("en", { maximumFractionDigits: 2 });

// A line chart in a figure: its caption names what it shows, the y axis its
// unit, the x axis UTC time; a legend names each series by colour, and a
// table of the same numbers (the canvas itself is hidden from screen readers).
// `span`: the time range shown (seconds), the whole range asked for even
// where it has no points; `yMax`: a fixed top, such as 1 for a rate.
export function LineChart({
  title,
  unit,
  data,
  format = plain,
  span,
  yMax,
}: {
  title: string;
  unit: string;
  data: ChartData;
  format?: (value: number) => string;
  span?: [number, number];
  yMax?: number;
}) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const target = ref.current;
    if (!target) return;
    const plot = new uPlot(
      {
        width: Math.max(320, target.clientWidth || 640),
        height: 240,
        tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), "Etc/UTC"),
        legend: { show: false },
        scales: {
          x: { time: true, ...(span && { range: (): uPlot.Range.MinMax => span }) },
          y: yMax === undefined ? {} : { range: (_u, _min, max): uPlot.Range.MinMax => [0, Math.max(yMax, max)] },
        },
        series: [{}, ...data.labels.map((label, i) => ({ label, stroke: palette[i % palette.length], width: 2, spanGaps: true, points: { show: true } }))],
        axes: [
          { label: "Time (UTC)", labelSize: 20 },
          { label: unit, labelSize: 20, size: 64, values: (_u, values) => values.map(format) },
        ],
      },
      data.columns as uPlot.AlignedData,
      target,
    );
    return () => plot.destroy();
  }, [data, format, unit, span?.[0], span?.[1], yMax]);
  const rows = chartRows(data, format);
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <div ref={ref} aria-hidden="true" />
      <ul className="legend" aria-label={`${title}: series`}>
        {data.labels.map((label, i) => (
          <li key={label}>
            <span className={`swatch series-${i % palette.length}`} aria-hidden="true" /> {label}
          </li>
        ))}
      </ul>
      <details>
        <summary>{title}: the numbers</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">Time (UTC)</th>
              {data.labels.map((label) => (
                <th key={label} scope="col">
                  {label} ({unit})
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.time}>
                <th scope="row">{row.time}</th>
                {row.values.map((value, i) => (
                  <td key={data.labels[i]} className="num">
                    {value}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
