import { create } from "@bufbuild/protobuf";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { EmailAddressSchema, EmailContentSchema, type MessagingService } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import type { TenantClientFactory } from "@onerouter/core";
import type { ProviderAccountStore } from "@onerouter/routing";

export interface TenantEmail {
  to: string;
  subject: string;
  text: string;
  // The same key sends the email once, however often this is called.
  idempotencyKey: string;
}

// OneRouter's own emails to a tenant's people (invitations, quota warnings)
// go through MessagingService like the tenant's: its email routing in live
// once it has a live email account, else its test environment, where a
// fresh tenant has the sandbox email provider.
export class TenantMailer {
  constructor(
    private readonly messagingFor: TenantClientFactory<typeof MessagingService>,
    private readonly accounts: ProviderAccountStore,
    private readonly from = "OneRouter <no-reply@onerouter.local>",
  ) {}

  async send(tenantId: string, email: TenantEmail) {
    const live = await this.accounts
      .query({ tenantId, environment: "live" })
      .where({ category: "messaging", enabled: true })
      .first("id");
    const environment = live ? Environment.LIVE : Environment.TEST;
    const { message } = await this.messagingFor(tenantId, environment).sendMessage(
      {
        content: {
          case: "email",
          value: create(EmailContentSchema, {
            from: parseAddress(this.from),
            to: [create(EmailAddressSchema, { email: email.to })],
            subject: email.subject,
            text: email.text,
          }),
        },
        metadata: { onerouter: "notification" },
      },
      { headers: { "idempotency-key": email.idempotencyKey } },
    );
    return message!;
  }
}

function parseAddress(address: string) {
  const match = /^(.*)<([^>]+)>\s*$/.exec(address);
  return create(EmailAddressSchema, match ? { name: match[1]!.trim(), email: match[2]!.trim() } : { email: address.trim() });
}
