import type { Fee } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { ConnectorError, decimalMicros, type ConnectorContext, type PublishedPrice } from "@onerouter/routing";
import { callTwilio } from "./client";

// Twilio publishes account-specific messaging prices through its Pricing API
// (pricing.twilio.com/v1/Messaging/Countries/{country}), one resource per
// destination with a price per carrier and number type. OneRouter asks
// about the destinations its fee table lists and keeps the highest current
// price of each: the carrier of a number is not known before sending.
export function twilioPublishedPrices(fees: readonly Fee[]): (ctx: ConnectorContext) => Promise<PublishedPrice[]> {
  const countries = [...new Set(fees.map((f) => f.country).filter((c) => c !== ""))];
  return async (ctx) => {
    const prices: PublishedPrice[] = [];
    for (const country of countries) {
      const resource = await callTwilio(ctx, (client) => client.pricing.v1.messaging.countries(country).fetch());
      const current = (resource.outboundSmsPrices ?? []).flatMap((carrier) => carrier.prices ?? []).map((p) => micros(currentPrice(p)));
      if (current.length === 0) continue;
      prices.push({ country, currency: resource.priceUnit.toUpperCase(), priceMicros: current.reduce((a, b) => (b > a ? b : a)) });
    }
    return prices;
  };
}

// The SDK maps each carrier but leaves its prices as Twilio sent them
// (snake_case), whatever its types say.
function currentPrice(price: { currentPrice?: unknown }): unknown {
  return price.currentPrice ?? (price as { current_price?: unknown }).current_price;
}

// Twilio sends prices as decimal strings ("0.0079") although the SDK types them as numbers.
function micros(price: unknown): bigint {
  const parsed = decimalMicros(String(price));
  if (parsed === undefined) {
    throw new ConnectorError("ambiguous", "twilio", `Twilio's price ${String(price)} is not a decimal amount`, { reason: "PROVIDER_INVALID_RESPONSE" });
  }
  return parsed;
}
