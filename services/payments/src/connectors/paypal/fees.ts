import { create } from "@bufbuild/protobuf";
import { FeeSchema, type Fee } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";

// PayPal's published checkout pricing: 3.49 % plus a fixed fee per currency.
const provider = "paypal";
export const paypalDefaultFees: readonly Fee[] = [
  create(FeeSchema, { provider, currency: "USD", percentageBps: 349, fixedMicros: 490_000n }),
  create(FeeSchema, { provider, currency: "EUR", percentageBps: 349, fixedMicros: 390_000n }),
  create(FeeSchema, { provider, currency: "GBP", percentageBps: 349, fixedMicros: 290_000n }),
  create(FeeSchema, { provider, currency: "JPY", percentageBps: 349, fixedMicros: 40_000_000n }),
  create(FeeSchema, { provider, percentageBps: 349 }),
];
