import { create } from "@bufbuild/protobuf";
import { FeeSchema, type Fee } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { currencyExponent } from "@onerouter/core";

// What a provider charges for one payment or message: a percentage of the
// amount plus a fixed part, looked up by provider, currency and country.

export interface FeeQuery {
  provider: string;
  currency: string;
  // ISO 3166-1 alpha-2; empty when unknown.
  country: string;
  // Minor units of `currency`.
  amount: bigint;
}

// Higher is more specific: provider+currency+country > provider+currency >
// provider+country > provider. Undefined: the fee does not apply.
function specificity(fee: Fee, query: FeeQuery): number | undefined {
  if (fee.provider !== query.provider) return undefined;
  const currency = fee.currency.toUpperCase();
  const country = fee.country.toUpperCase();
  if (currency !== "" && currency !== query.currency) return undefined;
  if (country !== "" && country !== query.country) return undefined;
  return (currency !== "" ? 2 : 0) + (country !== "" ? 1 : 0);
}

// The most specific fee that applies; the first one listed wins a tie.
export function findFee(fees: readonly Fee[], query: FeeQuery): Fee | undefined {
  let best: { fee: Fee; rank: number } | undefined;
  for (const fee of fees) {
    const rank = specificity(fee, query);
    if (rank !== undefined && (best === undefined || rank > best.rank)) best = { fee, rank };
  }
  return best?.fee;
}

// The fee in minor units of the query's currency, rounded half up. The
// percentage is basis points of the amount; the fixed part is millionths of
// the major unit, so both are summed over a common denominator of 10^6.
export function feeAmount(fee: Fee, amount: bigint, currency: string): bigint {
  const numerator = amount * BigInt(fee.percentageBps) * 100n + fee.fixedMicros * 10n ** BigInt(currencyExponent(currency));
  return (numerator + 500_000n) / 1_000_000n;
}

// A tenant's own fees override the published defaults: any of them that
// applies wins over every default, so a negotiated provider-wide rate is not
// undercut by a more specific list price. Undefined: no fee is known.
export function applicableFee(query: FeeQuery, overrides: readonly Fee[], defaults: readonly Fee[]): Fee | undefined {
  return findFee(overrides, query) ?? findFee(defaults, query);
}

export function estimateFee(query: FeeQuery, overrides: readonly Fee[], defaults: readonly Fee[]): bigint | undefined {
  const fee = applicableFee(query, overrides, defaults);
  return fee ? feeAmount(fee, query.amount, query.currency) : undefined;
}

// A provider's list price per message by destination country (ISO 3166-1
// alpha-2; "" for countries not listed), as fixed fees in one currency.
export function perCountryFees(provider: string, currency: string, fixedMicrosByCountry: Readonly<Record<string, bigint>>): Fee[] {
  return Object.entries(fixedMicrosByCountry).map(([country, fixedMicros]) => create(FeeSchema, { provider, currency, country, fixedMicros }));
}

// A decimal price as providers' pricing APIs send it ("0.0079") in
// millionths of the major unit; digits past the sixth decimal are dropped.
// Undefined when the text is not a decimal amount.
export function decimalMicros(price: string): bigint | undefined {
  const match = /^(\d+)(?:\.(\d{1,6})\d*)?$/.exec(price);
  if (!match) return undefined;
  return BigInt(match[1]!) * 1_000_000n + BigInt((match[2] ?? "").padEnd(6, "0"));
}
