import type { Fee } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import type { MessagingConnector } from "./connector";
import { mailgunConnector } from "./mailgun/index";
import { mailgunPrices } from "./mailgun/prices";
import { sandboxEmailConnector, sandboxSmsConnector } from "./sandbox/index";
import { sandboxEmailPrices, sandboxSmsPrices } from "./sandbox/prices";
import { sendgridConnector } from "./sendgrid/index";
import { sendgridPrices } from "./sendgrid/prices";
import { twilioConnector } from "./twilio/index";
import { twilioPrices } from "./twilio/prices";
import { vonageConnector } from "./vonage/index";
import { vonagePrices } from "./vonage/prices";

// Every messaging connector OneRouter ships, with the prices its provider
// publishes: Fee rows whose fixed part is the price of one SMS segment or
// one email. Adding a provider is its folder plus one line here.
export interface MessagingConnectorRegistration {
  connector: MessagingConnector;
  defaultFees: readonly Fee[];
}

export const messagingConnectors: readonly MessagingConnectorRegistration[] = [
  { connector: sandboxSmsConnector, defaultFees: sandboxSmsPrices },
  { connector: sandboxEmailConnector, defaultFees: sandboxEmailPrices },
  { connector: twilioConnector, defaultFees: twilioPrices },
  { connector: vonageConnector, defaultFees: vonagePrices },
  { connector: sendgridConnector, defaultFees: sendgridPrices },
  { connector: mailgunConnector, defaultFees: mailgunPrices },
];
