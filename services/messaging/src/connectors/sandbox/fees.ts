import { create } from "@bufbuild/protobuf";
import { FeeSchema, type Fee } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { sandboxEmailProvider, sandboxSmsProvider } from "./index";

// What the sandbox publishes as its prices, modelled on typical list prices
// so CHEAPEST routing has something realistic to compare: USD 0.0075 per SMS
// segment anywhere, USD 0.0008 per email.
export const sandboxSmsDefaultFees: readonly Fee[] = [create(FeeSchema, { provider: sandboxSmsProvider, currency: "USD", fixedMicros: 7_500n })];
export const sandboxEmailDefaultFees: readonly Fee[] = [create(FeeSchema, { provider: sandboxEmailProvider, currency: "USD", fixedMicros: 800n })];
