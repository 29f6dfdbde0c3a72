import type { ConnectorRegistration } from "@onerouter/routing";
import type { BuiltInSandbox } from "@onerouter/sandbox";
import type { MessagingConnector } from "./connector";
import { mailgunConnector } from "./mailgun/index";
import { mailgunDefaultFees } from "./mailgun/fees";
import { builtInSandboxAccounts, sandboxEmailConnector, sandboxSmsConnector } from "./sandbox/index";
import { sandboxEmailDefaultFees, sandboxSmsDefaultFees } from "./sandbox/fees";
import { sendgridConnector } from "./sendgrid/index";
import { sendgridDefaultFees } from "./sendgrid/fees";
import { twilioConnector } from "./twilio/index";
import { twilioDefaultFees } from "./twilio/fees";
import { twilioPublishedPrices } from "./twilio/pricing";
import { vonageConnector } from "./vonage/index";
import { vonageDefaultFees } from "./vonage/fees";
import { vonagePublishedPrices } from "./vonage/pricing";

export type MessagingConnectorRegistration = ConnectorRegistration<MessagingConnector>;

// Every messaging connector OneRouter ships, with the prices its provider
// publishes: Fee rows whose fixed part is the price of one SMS segment or
// one email; where a provider publishes its prices through an API, those
// are fetched on a schedule and win over the table. `builtInSandbox` is where this process runs the sandbox, if it
// does. Adding a provider is its folder plus one line here.
export function messagingConnectors(builtInSandbox?: BuiltInSandbox): MessagingConnectorRegistration[] {
  return [
    { connector: sandboxSmsConnector, defaultFees: sandboxSmsDefaultFees, settings: builtInSandboxAccounts(builtInSandbox) },
    { connector: sandboxEmailConnector, defaultFees: sandboxEmailDefaultFees, settings: builtInSandboxAccounts(builtInSandbox) },
    { connector: twilioConnector, defaultFees: twilioDefaultFees, publishedPrices: twilioPublishedPrices(twilioDefaultFees) },
    { connector: vonageConnector, defaultFees: vonageDefaultFees, publishedPrices: vonagePublishedPrices },
    { connector: sendgridConnector, defaultFees: sendgridDefaultFees },
    { connector: mailgunConnector, defaultFees: mailgunDefaultFees },
  ];
}
