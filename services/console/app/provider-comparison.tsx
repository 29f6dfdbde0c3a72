import type { ConnectError } from "@connectrpc/connect";
import type { CompareProvidersResponse } from "@onerouter/client/gen/onerouter/admin/v1/analytics_pb";
import type { UseQueryResult } from "@tanstack/react-query";
import { formatDuration, formatMoney, formatPercent, Loaded, Table } from "./ui";

// Each provider account side by side: volume, success, latency and fees.
export function ProviderComparison({ query }: { query: UseQueryResult<CompareProvidersResponse, ConnectError> }) {
  return (
    <Loaded query={query} what="providers" isEmpty={(data) => data.providers.length === 0} empty="No provider calls in this range.">
      {(data) => (
        <Table headings={["Provider", "Account", "Attempts", "Success rate", "Latency p50", "Latency p95", "Fees"]}>
          {data.providers.map((p) => (
            <tr key={p.providerAccountId || p.provider}>
              <td>{p.provider}</td>
              <td>
                <code>{p.providerAccountId}</code>
              </td>
              <td className="num">{p.attemptCount.toString()}</td>
              <td className="num">{formatPercent(p.successRate)}</td>
              <td className="num">{formatDuration(p.latencyP50)}</td>
              <td className="num">{formatDuration(p.latencyP95)}</td>
              <td>{p.fees.map((f) => formatMoney(f.amount, f.currency)).join(" · ") || "—"}</td>
            </tr>
          ))}
        </Table>
      )}
    </Loaded>
  );
}
