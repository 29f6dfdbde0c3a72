import type { Fee } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import type { MessagingConnector } from "./connector";
import { mailgunConnector } from "./mailgun/index";
import { mailgunDefaultFees } from "./mailgun/fees";
import { sandboxEmailConnector, sandboxSmsConnector } from "./sandbox/index";
import { sandboxEmailDefaultFees, sandboxSmsDefaultFees } from "./sandbox/fees";
import { sendgridConnector } from "./sendgrid/index";
import { sendgridDefaultFees } from "./sendgrid/fees";
import { twilioConnector } from "./twilio/index";
import { twilioDefaultFees } from "./twilio/fees";
import { vonageConnector } from "./vonage/index";
import { vonageDefaultFees } from "./vonage/fees";

// Every messaging connector OneRouter ships, with the prices its provider
// publishes: Fee rows whose fixed part is the price of one SMS segment or
// one email. Adding a provider is its folder plus one line here.
export interface MessagingConnectorRegistration {
  connector: MessagingConnector;
  defaultFees: readonly Fee[];
}

export const messagingConnectors: readonly MessagingConnectorRegistration[] = [
  { connector: sandboxSmsConnector, defaultFees: sandboxSmsDefaultFees },
  { connector: sandboxEmailConnector, defaultFees: sandboxEmailDefaultFees },
  { connector: twilioConnector, defaultFees: twilioDefaultFees },
  { connector: vonageConnector, defaultFees: vonageDefaultFees },
  { connector: sendgridConnector, defaultFees: sendgridDefaultFees },
  { connector: mailgunConnector, defaultFees: mailgunDefaultFees },
];
