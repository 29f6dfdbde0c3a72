import type { ConnectorRegistration } from "@onerouter/routing";
import type { BuiltInSandbox } from "@onerouter/sandbox";
import type { PaymentConnector } from "./connector";
import { paypalDefaultFees } from "./paypal/fees";
import { paypalConnector } from "./paypal/index";
import { razorpayDefaultFees } from "./razorpay/fees";
import { razorpayConnector } from "./razorpay/index";
import { sandboxDefaultFees } from "./sandbox/fees";
import { builtInSandboxAccounts, sandboxConnector } from "./sandbox/index";
import { stripeDefaultFees } from "./stripe/fees";
import { stripeConnector } from "./stripe/index";

export type PaymentConnectorRegistration = ConnectorRegistration<PaymentConnector>;

// Every payment connector OneRouter ships, with the fees its provider
// publishes; `builtInSandbox` is where this process runs the sandbox, if it
// does. Adding a provider is its folder plus one line here.
export function paymentConnectors(builtInSandbox?: BuiltInSandbox): PaymentConnectorRegistration[] {
  return [
    { connector: sandboxConnector, defaultFees: sandboxDefaultFees, settings: builtInSandboxAccounts(builtInSandbox) },
    { connector: stripeConnector, defaultFees: stripeDefaultFees },
    { connector: razorpayConnector, defaultFees: razorpayDefaultFees },
    { connector: paypalConnector, defaultFees: paypalDefaultFees },
  ];
}
