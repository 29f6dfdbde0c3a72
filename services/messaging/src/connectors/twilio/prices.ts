import { create } from "@bufbuild/protobuf";
import { FeeSchema, type Fee } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { twilioConnector } from "./index";

// Twilio's outbound SMS price per segment in USD by destination country:
// published list prices, approximate (carrier surcharges aside), with a
// typical rate for countries not listed. Tenants put their negotiated rates
// in their routing profile.
const sms = (country: string, fixedMicros: bigint) =>
  create(FeeSchema, { provider: twilioConnector.name, currency: "USD", country, fixedMicros });

export const twilioPrices: readonly Fee[] = [
  sms("US", 7_900n),
  sms("CA", 7_900n),
  sms("GB", 46_300n),
  sms("DE", 96_000n),
  sms("IN", 83_200n),
  sms("AU", 51_500n),
  sms("BR", 45_500n),
  sms("", 60_000n),
];
