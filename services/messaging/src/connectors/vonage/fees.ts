import type { Fee } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { perCountryFees } from "@onerouter/routing";
import { vonageConnector } from "./index";

// Vonage's outbound SMS price per message part in USD by destination
// country: published list prices, approximate, with a typical rate for
// countries not listed. Tenants put their negotiated rates in their routing
// profile.
export const vonageDefaultFees: readonly Fee[] = perCountryFees(vonageConnector.name, "USD", { US: 8_090n, CA: 8_090n, GB: 41_600n, DE: 86_400n, IN: 45_300n, AU: 60_100n, BR: 38_200n, "": 65_000n });
