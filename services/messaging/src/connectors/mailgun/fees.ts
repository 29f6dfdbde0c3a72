import { create } from "@bufbuild/protobuf";
import { FeeSchema, type Fee } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { mailgunConnector } from "./index";

// Mailgun's price per email in USD, from its published plans' overage
// rates: a list price, approximate.
export const mailgunDefaultFees: readonly Fee[] = [
  create(FeeSchema, { provider: mailgunConnector.name, currency: "USD", fixedMicros: 1_000n }),
];
