import type { Fee } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { perCountryFees } from "@onerouter/routing";
import { twilioConnector } from "./index";

// Twilio's outbound SMS price per segment in USD by destination country:
// published list prices, approximate (carrier surcharges aside), with a
// typical rate for countries not listed. Tenants put their negotiated rates
// in their routing profile.
export const twilioDefaultFees: readonly Fee[] = perCountryFees(twilioConnector.name, "USD", { US: 7_900n, CA: 7_900n, GB: 46_300n, DE: 96_000n, IN: 83_200n, AU: 51_500n, BR: 45_500n, "": 60_000n });
