import { useQuery } from "@connectrpc/connect-query";
import { UsageService } from "@onerouter/client/gen/onerouter/admin/v1/usage_pb";
import { Empty, ErrorState, formatTime, Loading, Page } from "../ui";

export default function Usage() {
  const plan = useQuery(UsageService.method.getPlan, {});
  const usage = useQuery(UsageService.method.getUsage, {});
  return (
    <Page title="Plan and usage">
      {plan.isPending ? (
        <Loading what="the plan" />
      ) : plan.error ? (
        <ErrorState error={plan.error} what="the plan" />
      ) : (
        <p>
          Plan: <strong>{plan.data.plan?.name ?? "—"}</strong>
        </p>
      )}
      {usage.isPending ? (
        <Loading what="usage" />
      ) : usage.error ? (
        <ErrorState error={usage.error} what="usage" />
      ) : !usage.data.usage || usage.data.usage.metrics.length === 0 ? (
        <Empty>No usage recorded this period.</Empty>
      ) : (
        <>
          <p className="muted">
            {formatTime(usage.data.usage.periodStartTime)} to {formatTime(usage.data.usage.periodEndTime)}
          </p>
          <ul className="meters">
            {usage.data.usage.metrics.map((metric) => {
              // A limit of 0 means unlimited.
              const unlimited = metric.limit <= 0n;
              const fraction = unlimited ? 0 : Number(metric.used) / Number(metric.limit);
              return (
                <li key={metric.name}>
                  <label>
                    <span>
                      {metric.name.replaceAll("_", " ")}: {metric.used.toString()} of {unlimited ? "unlimited" : metric.limit.toString()}
                    </span>
                    <progress value={unlimited ? 0 : Math.min(1, fraction)} max={1} className={fraction >= 0.9 ? "near-limit" : undefined} />
                  </label>
                </li>
              );
            })}
          </ul>
        </>
      )}
    </Page>
  );
}
