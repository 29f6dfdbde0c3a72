import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { TimeSeriesSchema } from "@onerouter/client/gen/onerouter/admin/v1/analytics_pb";
import { describe, expect, it } from "vitest";
import { chartDataOf } from "./chart-data";

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

  it("draws nothing from no series", () => {
    expect(chartDataOf([])).toEqual({ labels: [], columns: [[]] });
  });
});
