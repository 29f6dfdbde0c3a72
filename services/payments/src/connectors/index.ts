import type { Fee } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import type { PaymentConnector } from "./connector";
import { sandboxConnector } from "./sandbox/index";
import { sandboxDefaultFees } from "./sandbox/fees";

// Every payment connector OneRouter ships, with the fees its provider
// publishes. Adding a provider is its folder plus one line here.
export interface PaymentConnectorRegistration {
  connector: PaymentConnector;
  defaultFees: readonly Fee[];
}

export const paymentConnectors: readonly PaymentConnectorRegistration[] = [
  { connector: sandboxConnector, defaultFees: sandboxDefaultFees },
];
