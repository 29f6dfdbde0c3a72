import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import type { ProviderError } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { Empty, Facts, formatDuration, formatTime, ProviderErrorText, StatusBadge, type Fact } from "./ui";

// One provider call of a payment or a message.
export interface TimelineAttempt {
  id: string;
  provider: string;
  providerAccountId: string;
  status: string;
  createTime?: Timestamp;
  latency?: Duration;
  routingReason: string;
  error?: ProviderError;
  // What only this kind of call has (a payment's fee, the provider's id).
  facts?: Fact[];
}

// Every provider call in order: which account, why routing chose it, how
// long it took, what failed, and which provider was tried next because of it.
export function AttemptTimeline({ attempts }: { attempts: TimelineAttempt[] }) {
  if (attempts.length === 0) return <Empty>No provider was called.</Empty>;
  return (
    <ol className="timeline" aria-label="Attempts">
      {attempts.map((attempt, index) => {
        const next = attempts[index + 1];
        return (
          <li key={attempt.id} className={`attempt attempt-${attempt.status.replaceAll(" ", "-")}`}>
            <div className="attempt-head">
              <strong>{attempt.provider}</strong> <StatusBadge label={attempt.status} />
              <span className="muted">{formatTime(attempt.createTime)}</span>
            </div>
            <Facts
              compact
              facts={[
                ["Attempt", <code>{attempt.id}</code>],
                ["Account", <code>{attempt.providerAccountId}</code>],
                attempt.routingReason !== "" && ["Routing", attempt.routingReason],
                attempt.latency && ["Latency", formatDuration(attempt.latency)],
                ...(attempt.facts ?? []),
                attempt.error && ["Error", <ProviderErrorText error={attempt.error} />],
              ]}
            />
            {next && (
              <p className="failover">
                Failed over to <strong>{next.provider}</strong>
                {attempt.error ? `: ${attempt.error.message}` : ""}
              </p>
            )}
          </li>
        );
      })}
    </ol>
  );
}
