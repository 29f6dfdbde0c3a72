import type { Fee } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import type { PaymentConnector } from "./connector";
import { paypalDefaultFees } from "./paypal/fees";
import { paypalConnector } from "./paypal/index";
import { razorpayDefaultFees } from "./razorpay/fees";
import { razorpayConnector } from "./razorpay/index";
import { sandboxDefaultFees } from "./sandbox/fees";
import { sandboxConnector } from "./sandbox/index";
import { stripeDefaultFees } from "./stripe/fees";
import { stripeConnector } from "./stripe/index";

// Every payment connector OneRouter ships, with the fees its provider
// publishes. Adding a provider is its folder plus one line here.
export interface PaymentConnectorRegistration {
  connector: PaymentConnector;
  defaultFees: readonly Fee[];
}

export const paymentConnectors: readonly PaymentConnectorRegistration[] = [
  { connector: sandboxConnector, defaultFees: sandboxDefaultFees },
  { connector: stripeConnector, defaultFees: stripeDefaultFees },
  { connector: razorpayConnector, defaultFees: razorpayDefaultFees },
  { connector: paypalConnector, defaultFees: paypalDefaultFees },
];
