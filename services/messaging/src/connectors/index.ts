import type { ConnectorRegistration } from "@onerouter/routing";
import type { BuiltInSandbox } from "@onerouter/sandbox";
import type { MessagingConnector } from "./connector";
import { mailgunConnector } from "./mailgun/index";
import { mailgunPrices } from "./mailgun/prices";
import { builtInSandboxAccounts, sandboxEmailConnector, sandboxSmsConnector } from "./sandbox/index";
import { sandboxEmailPrices, sandboxSmsPrices } from "./sandbox/prices";
import { sendgridConnector } from "./sendgrid/index";
import { sendgridPrices } from "./sendgrid/prices";
import { twilioConnector } from "./twilio/index";
import { twilioPrices } from "./twilio/prices";
import { vonageConnector } from "./vonage/index";
import { vonagePrices } from "./vonage/prices";

export type MessagingConnectorRegistration = ConnectorRegistration<MessagingConnector>;

// Every messaging connector OneRouter ships, with the prices its provider
// publishes: Fee rows whose fixed part is the price of one SMS segment or
// one email. `builtInSandbox` is where this process runs the sandbox, if it
// does. Adding a provider is its folder plus one line here.
export function messagingConnectors(builtInSandbox?: BuiltInSandbox): MessagingConnectorRegistration[] {
  return [
    { connector: sandboxSmsConnector, defaultFees: sandboxSmsPrices, settings: builtInSandboxAccounts(builtInSandbox) },
    { connector: sandboxEmailConnector, defaultFees: sandboxEmailPrices, settings: builtInSandboxAccounts(builtInSandbox) },
    { connector: twilioConnector, defaultFees: twilioPrices },
    { connector: vonageConnector, defaultFees: vonagePrices },
    { connector: sendgridConnector, defaultFees: sendgridPrices },
    { connector: mailgunConnector, defaultFees: mailgunPrices },
  ];
}
