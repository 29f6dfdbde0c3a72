import { currencyExponent } from "@onerouter/core";
import { ConnectorError } from "../connector";

// Stripe counts amounts in its own minor units, which follow ISO 4217 except
// where Stripe's currency list says otherwise: MGA is zero-decimal at Stripe
// (two-decimal in ISO), ISK stays two-decimal at Stripe (zero in ISO).
const zeroDecimal = new Set([
  "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
]);
const threeDecimal = new Set(["BHD", "JOD", "KWD", "OMR", "TND"]);

function stripeExponent(currency: string): number {
  if (zeroDecimal.has(currency)) return 0;
  if (threeDecimal.has(currency)) return 3;
  return 2;
}

// Stripe's card partners take three-decimal amounts only in whole tens, and
// ISK only in whole krónur (multiples of 100 in Stripe's units).
function stripeStep(currency: string): bigint {
  if (threeDecimal.has(currency)) return 10n;
  if (currency === "ISK") return 100n;
  return 1n;
}

function unsupported(message: string): ConnectorError {
  return new ConnectorError("invalid_request", "stripe", message, { reason: "AMOUNT_NOT_SUPPORTED_BY_PROVIDER" });
}

// OneRouter minor units (ISO 4217) -> the integer Stripe expects.
export function toStripeAmount(amount: bigint, currency: string): number {
  const code = currency.toUpperCase();
  const shift = stripeExponent(code) - currencyExponent(code);
  let units = amount;
  if (shift > 0) units = amount * 10n ** BigInt(shift);
  if (shift < 0) {
    const divisor = 10n ** BigInt(-shift);
    if (amount % divisor !== 0n) {
      throw unsupported(`Stripe takes ${code} in whole units; ${amount} minor units is not one`);
    }
    units = amount / divisor;
  }
  const step = stripeStep(code);
  if (units % step !== 0n) {
    throw unsupported(`Stripe takes ${code} amounts in steps of ${step} of its units; ${units} is not one`);
  }
  if (units > BigInt(Number.MAX_SAFE_INTEGER)) throw unsupported(`${amount} ${code} is too large for Stripe`);
  return Number(units);
}

// Stripe's integer -> OneRouter minor units.
export function fromStripeAmount(units: number, currency: string): bigint {
  const code = currency.toUpperCase();
  const shift = stripeExponent(code) - currencyExponent(code);
  if (shift > 0) return BigInt(units) / 10n ** BigInt(shift);
  return BigInt(units) * 10n ** BigInt(-shift);
}
