import { create } from "@bufbuild/protobuf";
import { FeeSchema, type Fee } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { sendgridConnector } from "./index";

// SendGrid's price per email in USD, from its published plans' overage
// rates: a list price, approximate.
export const sendgridDefaultFees: readonly Fee[] = [
  create(FeeSchema, { provider: sendgridConnector.name, currency: "USD", fixedMicros: 1_000n }),
];
