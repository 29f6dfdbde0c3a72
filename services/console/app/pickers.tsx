import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Category } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { useMemo } from "react";
import { setQuery, useLocation } from "./router";

// Choices a page keeps in its URL (range, category), so a view can be shared.

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

export function useCategory(): Category {
  return useLocation().query.get("category") === "messaging" ? Category.MESSAGING : Category.PAYMENTS;
}

export function CategoryPicker({ value }: { value: Category }) {
  return (
    <label>
      Category
      <select value={value === Category.MESSAGING ? "messaging" : "payments"} onChange={(e) => setQuery({ category: e.target.value })}>
        <option value="payments">payments</option>
        <option value="messaging">messaging</option>
      </select>
    </label>
  );
}
