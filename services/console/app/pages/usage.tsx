import { useQuery } from "@connectrpc/connect-query";
import { UsageService } from "@onerouter/client/gen/onerouter/admin/v1/usage_pb";
import { formatTime, Loaded, Page } from "../ui";

export default function Usage() {
  const plan = useQuery(UsageService.method.getPlan, {});
  const usage = useQuery(UsageService.method.getUsage, {});
  return (
    <Page title="Plan and usage">
      <Loaded query={plan} what="the plan">
        {(data) => (
          <p>
            Plan: <strong>{data.plan?.name ?? "—"}</strong>
          </p>
        )}
      </Loaded>
      <Loaded query={usage} what="usage" isEmpty={(data) => !data.usage || data.usage.metrics.length === 0} empty="No usage recorded this period.">
        {({ usage }) => (
          <>
            <p className="muted">
              {formatTime(usage!.periodStartTime)} to {formatTime(usage!.periodEndTime)}
            </p>
            <ul className="meters">
              {usage!.metrics.map((metric) => {
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
      </Loaded>
    </Page>
  );
}
