import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { TimeSeriesSchema } from "@onerouter/client/gen/onerouter/admin/v1/analytics_pb";
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { LineChart } from "./chart";
import { chartDataOf } from "./chart-data";
import { formatPercent } from "./ui";

const hour = 3600_000;
const at = (h: number) => timestampFromMs(Date.UTC(2026, 11, 1) + h * hour);
const seconds = (h: number) => (Date.UTC(2026, 11, 1) + h * hour) / 1000;

describe("the charts' data mapping", () => {
  it("aligns every series on one sorted time axis, with gaps where a series has no point", () => {
    const data = chartDataOf([
      create(TimeSeriesSchema, { provider: "stripe", points: [{ time: at(2), value: 5 }, { time: at(0), value: 3 }] }),
      create(TimeSeriesSchema, { provider: "paypal", points: [{ time: at(1), value: 7 }] }),
    ]);
    expect(data.labels).toEqual(["stripe", "paypal"]);
    expect(data.columns).toEqual([
      [seconds(0), seconds(1), seconds(2)],
      [3, null, 5],
      [null, 7, null],
    ]);
  });

  it("keeps currencies apart and names an ungrouped series", () => {
    const data = chartDataOf([
      create(TimeSeriesSchema, { currency: "EUR", points: [{ time: at(0), value: 100 }] }),
      create(TimeSeriesSchema, { currency: "USD", points: [{ time: at(0), value: 40 }] }),
    ]);
    expect(data.labels).toEqual(["all providers · EUR", "all providers · USD"]);
    expect(data.columns).toEqual([[seconds(0)], [100], [40]]);
  });

  it("draws money in each currency's major unit", () => {
    const data = chartDataOf(
      [
        create(TimeSeriesSchema, { provider: "stripe", currency: "EUR", points: [{ time: at(0), value: 2500 }] }),
        create(TimeSeriesSchema, { provider: "stripe", currency: "JPY", points: [{ time: at(0), value: 2500 }] }),
      ],
      { minorUnits: true },
    );
    expect(data.columns).toEqual([[seconds(0)], [25], [2500]]);
  });

  it("draws nothing from no series", () => {
    expect(chartDataOf([])).toEqual({ labels: [], columns: [[]] });
  });
});

// The chart component as a page renders it (server-side here: the canvas is
// drawn in the browser, its caption, legend and table of numbers are not).
describe("the line chart", () => {
  const render = (format?: (value: number) => string) =>
    renderToStaticMarkup(
      createElement(LineChart, {
        title: "Success rate by provider",
        unit: "% succeeded",
        format,
        data: chartDataOf([
          create(TimeSeriesSchema, { provider: "stripe", points: [{ time: at(0), value: 0.5 }, { time: at(1), value: 1 }] }),
          create(TimeSeriesSchema, { provider: "paypal", points: [{ time: at(1), value: 0.25 }] }),
        ]),
      }),
    );
  const cells = (html: string, tag: string) => [...html.matchAll(new RegExp(`<${tag}[^>]*>(.*?)</${tag}>`, "g"))].map((m) => m[1]!.replace(/<[^>]+>/g, "").trim());

  it("names what it shows, each series in the legend with its colour, and the unit on every column", () => {
    const html = render(formatPercent);
    expect(cells(html, "figcaption")).toEqual(["Success rate by provider"]);
    expect(cells(html, "li")).toEqual(["stripe", "paypal"]);
    expect([...html.matchAll(/swatch series-(\d)/g)].map((m) => m[1])).toEqual(["0", "1"]);
    expect(cells(html, "th")).toEqual([
      "Time (UTC)",
      "stripe (% succeeded)",
      "paypal (% succeeded)",
      "2026-12-01 00:00",
      "2026-12-01 01:00",
    ]);
  });

  it("tabulates every point in the chart's format, with a dash where a series has none", () => {
    expect(cells(render(formatPercent), "td")).toEqual(["50.0%", "—", "100.0%", "25.0%"]);
    expect(cells(render(), "td")).toEqual(["0.5", "—", "1", "0.25"]);
  });
});
