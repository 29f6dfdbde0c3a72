import { useMutation, useQuery } from "@connectrpc/connect-query";
import { AnalyticsService, Report } from "@onerouter/client/gen/onerouter/admin/v1/analytics_pb";
import { Category } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { setQuery, useLocation } from "../router";
import { Empty, ErrorState, formatDuration, formatMoney, Loading, Page } from "../ui";
import { RangePicker, useRange } from "./overview";

const reports: [string, Report][] = [
  ["payments", Report.PAYMENTS],
  ["messages", Report.MESSAGES],
  ["providers", Report.PROVIDERS],
  ["costs", Report.COSTS],
];

export default function Analytics() {
  const { name, range } = useRange();
  const { query } = useLocation();
  const category = query.get("category") === "messaging" ? Category.MESSAGING : Category.PAYMENTS;
  const providers = useQuery(AnalyticsService.method.compareProviders, { category, range });
  const errors = useQuery(AnalyticsService.method.listTopErrors, { category, range, limit: 10 });
  const costs = useQuery(AnalyticsService.method.getCosts, { range });
  const exportCsv = useMutation(AnalyticsService.method.exportCsv, {
    onSuccess: (answer) => {
      // The file is made in the browser from the API's answer: no private download endpoint.
      const url = URL.createObjectURL(new Blob([answer.content as BlobPart], { type: "text/csv" }));
      const link = document.createElement("a");
      link.href = url;
      link.download = answer.filename || "onerouter.csv";
      link.click();
      URL.revokeObjectURL(url);
    },
  });
  const percent = (value: number) => `${(value * 100).toFixed(1)}%`;
  return (
    <Page
      title="Analytics"
      actions={
        <>
          <RangePicker value={name} />
          <label>
            Category
            <select value={category === Category.MESSAGING ? "messaging" : "payments"} onChange={(e) => setQuery({ category: e.target.value })}>
              <option value="payments">payments</option>
              <option value="messaging">messaging</option>
            </select>
          </label>
        </>
      }
    >
      <div className="actions" aria-label="CSV downloads">
        {reports.map(([label, report]) => (
          <button key={label} type="button" disabled={exportCsv.isPending} onClick={() => exportCsv.mutate({ report, range })}>
            Download {label} CSV
          </button>
        ))}
      </div>
      {exportCsv.error && <ErrorState error={exportCsv.error} />}
      <h2>Provider comparison</h2>
      {providers.isPending ? (
        <Loading what="providers" />
      ) : providers.error ? (
        <ErrorState error={providers.error} what="providers" />
      ) : providers.data.providers.length === 0 ? (
        <Empty>No provider calls in this range.</Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Provider</th>
              <th scope="col">Account</th>
              <th scope="col">Attempts</th>
              <th scope="col">Success rate</th>
              <th scope="col">p50</th>
              <th scope="col">p95</th>
              <th scope="col">Fees</th>
            </tr>
          </thead>
          <tbody>
            {providers.data.providers.map((p) => (
              <tr key={p.providerAccountId || p.provider}>
                <td>{p.provider}</td>
                <td>
                  <code>{p.providerAccountId}</code>
                </td>
                <td className="num">{p.attemptCount.toString()}</td>
                <td className="num">{percent(p.successRate)}</td>
                <td className="num">{formatDuration(p.latencyP50)}</td>
                <td className="num">{formatDuration(p.latencyP95)}</td>
                <td>{p.fees.map((f) => formatMoney(f.amount, f.currency)).join(" · ") || "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Top errors</h2>
      {errors.isPending ? (
        <Loading what="errors" />
      ) : errors.error ? (
        <ErrorState error={errors.error} what="errors" />
      ) : errors.data.errors.length === 0 ? (
        <Empty>No errors in this range.</Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Reason</th>
              <th scope="col">Provider</th>
              <th scope="col">Provider's code</th>
              <th scope="col">Count</th>
            </tr>
          </thead>
          <tbody>
            {errors.data.errors.map((e) => (
              <tr key={`${e.reason}/${e.provider}/${e.providerCode}`}>
                <td>
                  <code>{e.reason}</code>
                </td>
                <td>{e.provider}</td>
                <td>{e.providerCode}</td>
                <td className="num">{e.count.toString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Costs</h2>
      {costs.isPending ? (
        <Loading what="costs" />
      ) : costs.error ? (
        <ErrorState error={costs.error} what="costs" />
      ) : costs.data.lines.length === 0 ? (
        <Empty>No costs in this range.</Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Provider</th>
              <th scope="col">Category</th>
              <th scope="col">Count</th>
              <th scope="col">Cost</th>
            </tr>
          </thead>
          <tbody>
            {costs.data.lines.map((line) => (
              <tr key={`${line.provider}/${line.category}/${line.currency}`}>
                <td>{line.provider}</td>
                <td>{line.category === Category.MESSAGING ? "messaging" : "payments"}</td>
                <td className="num">{line.count.toString()}</td>
                <td className="num">
                  {(Number(line.costMicros) / 1e6).toFixed(4)} {line.currency}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}
