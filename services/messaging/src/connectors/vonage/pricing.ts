import type { Pricing } from "@vonage/pricing";
import { ConnectorError, decimalMicros, type ConnectorContext, type PublishedPrice } from "@onerouter/routing";
import { callVonage } from "./client";

// Vonage publishes outbound SMS prices for every destination in one answer
// of its Pricing API (account/get-full-pricing/outbound/sms), in the
// account's billing currency; each destination's default price is kept.
// The SDK's ServiceType.SMS, from a package the SDK brings along.
const sms = "sms" as Parameters<Pricing["listAllCountriesPricing"]>[0];

export async function vonagePublishedPrices(ctx: ConnectorContext): Promise<PublishedPrice[]> {
  const answer = await callVonage(ctx, (sdk) => sdk.pricing.listAllCountriesPricing(sms));
  return (answer.countries ?? []).flatMap((country) => {
    if (!/^[A-Z]{2}$/.test(country.countryCode ?? "") || !country.currency || !country.defaultPrice) return [];
    return [{ country: country.countryCode, currency: country.currency.toUpperCase(), priceMicros: micros(country.defaultPrice) }];
  });
}

function micros(price: string): bigint {
  const parsed = decimalMicros(price);
  if (parsed === undefined) {
    throw new ConnectorError("ambiguous", "vonage", `Vonage's price ${price} is not a decimal amount`, { reason: "PROVIDER_INVALID_RESPONSE" });
  }
  return parsed;
}
