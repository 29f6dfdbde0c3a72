import { ConnectorError } from "../connector";

// Currencies Razorpay settles for international payments besides INR; each
// must be enabled on the Razorpay account.
export const razorpayCurrencies: readonly string[] = [
  "INR", "USD", "EUR", "GBP", "SGD", "AED", "AUD", "CAD", "CHF", "HKD", "MYR", "NZD",
  "SAR", "QAR", "SEK", "DKK", "NOK", "ZAR", "THB", "JPY", "KWD", "BHD", "OMR",
];

// Razorpay counts amounts in currency subunits with the ISO 4217 exponents
// OneRouter uses (paise and cents; JPY has none; KWD, BHD and OMR have three),
// so minor units carry over unchanged. Razorpay refuses three-decimal
// amounts whose last digit is not 0 with its own validation error.
export function toRazorpayAmount(amount: bigint, currency: string): number {
  if (!razorpayCurrencies.includes(currency)) {
    throw new ConnectorError("invalid_request", "razorpay", `Razorpay does not accept ${currency}`, {
      reason: "CURRENCY_NOT_SUPPORTED",
    });
  }
  if (amount <= 0n || amount > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ConnectorError("invalid_request", "razorpay", `amount ${amount} is out of Razorpay's range`, {
      reason: "INVALID_AMOUNT",
    });
  }
  return Number(amount);
}

// The SDK types amounts as number | string; Razorpay sends integers.
export function fromRazorpayAmount(amount: number | string): bigint {
  return BigInt(amount);
}
