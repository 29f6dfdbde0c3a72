import { useMutation, useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { UsageService, type Plan } from "@onerouter/client/gen/onerouter/admin/v1/usage_pb";
import { useState } from "react";
import { Permitted } from "../session";
import { Confirm, ErrorState, formatTime, Loaded, Page } from "../ui";

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
      <Permitted method={UsageService.method.updatePlan}>
        <ChangePlan current={plan.data?.plan?.id} />
      </Permitted>
      <Loaded query={usage} what="usage" isEmpty={(data) => !data.usage || data.usage.metrics.length === 0} empty="No usage recorded this period.">
        {({ usage }) => (
          <>
            <p className="muted">
              {formatTime(usage!.periodStartTime)} to {formatTime(usage!.periodEndTime)}
            </p>
            <ul className="meters">
              {usage!.metrics.map((metric) => {
                const name = metric.name.replaceAll("_", " ");
                // A limit of 0 means unlimited: a count, with no bar to fill.
                if (metric.limit <= 0n) {
                  return (
                    <li key={metric.name}>
                      {name}: {metric.used.toString()} (no limit)
                    </li>
                  );
                }
                const fraction = Number(metric.used) / Number(metric.limit);
                return (
                  <li key={metric.name}>
                    <label>
                      <span>
                        {name}: {metric.used.toString()} of {metric.limit.toString()}
                      </span>
                      <progress value={Math.min(1, fraction)} max={1} className={fraction >= 0.9 ? "near-limit" : undefined} />
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

// The owner's choice of plan, confirmed first: limits change at once.
function ChangePlan({ current }: { current: string | undefined }) {
  const plans = useQuery(UsageService.method.listPlans, {});
  const queryClient = useQueryClient();
  const [choosing, setChoosing] = useState<Plan>();
  const update = useMutation(UsageService.method.updatePlan, {
    onSuccess: () => {
      setChoosing(undefined);
      void queryClient.invalidateQueries();
    },
  });
  if (!plans.data) return null;
  return (
    <>
      <div className="inline">
        <label>
          Change plan
          <select value={current ?? ""} onChange={(e) => setChoosing(plans.data.plans.find((p) => p.id === e.target.value))}>
            {plans.data.plans.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
      </div>
      {update.error && <ErrorState error={update.error} />}
      {choosing && (
        <Confirm
          title={`Move to the ${choosing.name} plan?`}
          confirmLabel={`Move to ${choosing.name}`}
          busy={update.isPending}
          onCancel={() => setChoosing(undefined)}
          onConfirm={() => update.mutate({ planId: choosing.id })}
        >
          <p>Its limits apply from now on, to this month's usage too.</p>
        </Confirm>
      )}
    </>
  );
}
