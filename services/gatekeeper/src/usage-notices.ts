import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { TenantMailer } from "@onerouter/admin";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { EventType } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import { appendEvent, type Knex, type Logger } from "@onerouter/core";

export const noticeThresholds = [80, 100] as const;

export interface QuotaUse {
  tenantId: string;
  planId: string;
  metric: string;
  periodStart: Date;
  used: number;
  limit: number;
}

interface Email {
  tenantId: string;
  to: string;
  subject: string;
  text: string;
  idempotencyKey: string;
  attempts: number;
}

const maxEmailAttempts = 5;

// At 80 % and at 100 % of a monthly quota, once per period: a
// usage.threshold_reached event in each environment (the tenant's endpoints
// in either one hear of it) and an email to each owner. Whichever process
// inserts the notice's row gives it, so it is given once however many calls
// and processes cross the threshold together.
export class UsageNotices {
  // Notices of the latest period this process knows are given, so it asks
  // the table once.
  private settled = new Set<string>();
  private settledPeriod = 0;
  // Emails whose sending failed, retried on the next check.
  private unsent: Email[] = [];

  constructor(
    private readonly knex: Knex,
    private readonly mailer: TenantMailer | undefined,
    private readonly logger: Logger,
  ) {}

  async check(uses: QuotaUse[]): Promise<void> {
    const emails = this.unsent;
    this.unsent = [];
    for (const use of uses) {
      if (use.limit <= 0) continue;
      if (use.periodStart.getTime() > this.settledPeriod) {
        this.settled = new Set();
        this.settledPeriod = use.periodStart.getTime();
      }
      for (const threshold of noticeThresholds) {
        const id = `${use.tenantId}/${use.periodStart.toISOString()}/${use.metric}/${threshold}`;
        if (this.settled.has(id) || use.used < Math.ceil((use.limit * threshold) / 100)) continue;
        if (await this.claim(use, threshold)) emails.push(...(await this.emailsFor(use, threshold)));
        this.settled.add(id);
      }
    }
    for (const email of emails) await this.send(email);
  }

  private async claim(use: QuotaUse, threshold: number): Promise<boolean> {
    return this.knex.transaction(async (trx) => {
      const inserted = await trx("usage_notices")
        .insert({
          tenant_id: use.tenantId,
          period_start: use.periodStart,
          metric: use.metric,
          threshold_percent: threshold,
          used: use.used,
          limit: use.limit,
        })
        .onConflict(["tenant_id", "period_start", "metric", "threshold_percent"])
        .ignore()
        .returning("tenant_id");
      if (inserted.length === 0) return false;
      for (const environment of [Environment.TEST, Environment.LIVE]) {
        await appendEvent(trx, {
          type: EventType.USAGE_THRESHOLD_REACHED,
          tenantId: use.tenantId,
          environment,
          data: {
            case: "usage",
            value: {
              metric: use.metric,
              thresholdPercent: threshold,
              used: BigInt(use.used),
              limit: BigInt(use.limit),
              planId: use.planId,
              periodStartTime: timestampFromDate(use.periodStart),
            },
          },
        });
      }
      return true;
    });
  }

  private async emailsFor(use: QuotaUse, threshold: number): Promise<Email[]> {
    const owners = (await this.knex("members").where({ tenant_id: use.tenantId, role: "owner" }).select("id", "email")) as {
      id: string;
      email: string;
    }[];
    const what = use.metric.replace("_", " ");
    const month = use.periodStart.toISOString().slice(0, 7);
    const subject =
      threshold >= 100 ? `OneRouter: your monthly ${what} are used up` : `OneRouter: ${threshold}% of your monthly ${what} used`;
    const text =
      `Your tenant has used ${use.used} of the ${use.limit} ${what} its ${use.planId} plan allows in ${month} (UTC).\n` +
      (threshold >= 100
        ? "Further calls are refused with QUOTA_EXCEEDED until the month ends, unless the plan is upgraded.\n"
        : "At 100 % further calls are refused with QUOTA_EXCEEDED until the month ends.\n");
    return owners.map((owner) => ({
      tenantId: use.tenantId,
      to: owner.email,
      subject,
      text,
      idempotencyKey: `usage-notice:${use.tenantId}:${month}:${use.metric}:${threshold}:${owner.id}`,
      attempts: 0,
    }));
  }

  private async send(email: Email): Promise<void> {
    if (!this.mailer) return;
    const { tenantId, to, subject, text, idempotencyKey } = email;
    try {
      // The idempotency key makes a retry of an email that did go out a no-op.
      await this.mailer.send(tenantId, { to, subject, text, idempotencyKey });
    } catch (err) {
      const attempts = email.attempts + 1;
      if (attempts < maxEmailAttempts) this.unsent.push({ ...email, attempts });
      this.logger.warn({ err, tenantId, attempts }, attempts < maxEmailAttempts ? "a usage notice email failed; retrying" : "a usage notice email failed; giving up");
    }
  }
}
