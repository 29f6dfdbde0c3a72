import { create } from "@bufbuild/protobuf";
import { FeeSchema, type Fee } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";

// Stripe's published standard card pricing for common currencies; tenants
// override these with their negotiated rates in their routing profile.
const provider = "stripe";
export const stripeDefaultFees: readonly Fee[] = [
  create(FeeSchema, { provider, currency: "USD", percentageBps: 290, fixedMicros: 300_000n }),
  create(FeeSchema, { provider, currency: "EUR", percentageBps: 150, fixedMicros: 250_000n }),
  create(FeeSchema, { provider, currency: "GBP", percentageBps: 150, fixedMicros: 200_000n }),
  create(FeeSchema, { provider, currency: "INR", percentageBps: 200 }),
  create(FeeSchema, { provider, currency: "JPY", percentageBps: 360 }),
  create(FeeSchema, { provider, percentageBps: 290 }),
];
