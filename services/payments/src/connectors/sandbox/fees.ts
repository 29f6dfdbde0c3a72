import { create } from "@bufbuild/protobuf";
import { FeeSchema, type Fee } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { sandboxConnector } from "./index";

// What the sandbox publishes as its price, modelled on a typical card
// processor so CHEAPEST routing has something realistic to compare:
// 2.9 % + 0.30 in USD, 2.9 % in every other currency.
const provider = sandboxConnector.name;
export const sandboxDefaultFees: readonly Fee[] = [
  create(FeeSchema, { provider, currency: "USD", percentageBps: 290, fixedMicros: 300_000n }),
  create(FeeSchema, { provider, percentageBps: 290 }),
];
