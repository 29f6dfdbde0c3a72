import { create } from "@bufbuild/protobuf";
import { FeeSchema, type Fee } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { vonageConnector } from "./index";

// Vonage's outbound SMS price per message part in USD by destination
// country: published list prices, approximate, with a typical rate for
// countries not listed. Tenants put their negotiated rates in their routing
// profile.
const sms = (country: string, fixedMicros: bigint) =>
  create(FeeSchema, { provider: vonageConnector.name, currency: "USD", country, fixedMicros });

export const vonagePrices: readonly Fee[] = [
  sms("US", 8_090n),
  sms("CA", 8_090n),
  sms("GB", 41_600n),
  sms("DE", 86_400n),
  sms("IN", 45_300n),
  sms("AU", 60_100n),
  sms("BR", 38_200n),
  sms("", 65_000n),
];
