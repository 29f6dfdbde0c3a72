import { create } from "@bufbuild/protobuf";
import { FeeSchema, type Fee } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";

// Razorpay's published standard plan: 2 % on domestic INR payments, 3 % on
// international ones.
const provider = "razorpay";
export const razorpayDefaultFees: readonly Fee[] = [
  create(FeeSchema, { provider, currency: "INR", percentageBps: 200 }),
  create(FeeSchema, { provider, percentageBps: 300 }),
];
