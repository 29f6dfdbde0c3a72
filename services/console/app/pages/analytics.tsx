import { useMutation, useQuery } from "@connectrpc/connect-query";
import { AnalyticsService, Report } from "@onerouter/client/gen/onerouter/admin/v1/analytics_pb";
import { Category } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { ErrorState, formatMicros, Loaded, Page, Table } from "../ui";
import { ProviderComparison } from "../provider-comparison";
import { CategoryPicker, RangePicker, useCategory, useRange } from "../pickers";

const reports: [string, Report][] = [
  ["payments", Report.PAYMENTS],
  ["messages", Report.MESSAGES],
  ["providers", Report.PROVIDERS],
  ["costs", Report.COSTS],
];

export default function Analytics() {
  const { name, range } = useRange();
  const category = useCategory();
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
  return (
    <Page
      title="Analytics"
      actions={
        <>
          <RangePicker value={name} />
          <CategoryPicker value={category} />
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
      <ProviderComparison query={providers} />
      <h2>Top errors</h2>
      <Loaded query={errors} what="errors" isEmpty={(data) => data.errors.length === 0} empty="No errors in this range.">
        {(data) => (
          <Table headings={["Reason", "Provider", "Provider's code", "Count"]}>
            {data.errors.map((e) => (
              <tr key={`${e.reason}/${e.provider}/${e.providerCode}`}>
                <td>
                  <code>{e.reason}</code>
                </td>
                <td>{e.provider}</td>
                <td>{e.providerCode}</td>
                <td className="num">{e.count.toString()}</td>
              </tr>
            ))}
          </Table>
        )}
      </Loaded>
      <h2>Costs</h2>
      <Loaded query={costs} what="costs" isEmpty={(data) => data.lines.length === 0} empty="No costs in this range.">
        {(data) => (
          <Table headings={["Provider", "Category", "Count", "Cost"]}>
            {data.lines.map((line) => (
              <tr key={`${line.provider}/${line.category}/${line.currency}`}>
                <td>{line.provider}</td>
                <td>{line.category === Category.MESSAGING ? "messaging" : "payments"}</td>
                <td className="num">{line.count.toString()}</td>
                <td className="num">{formatMicros(line.costMicros, line.currency)}</td>
              </tr>
            ))}
          </Table>
        )}
      </Loaded>
    </Page>
  );
}
