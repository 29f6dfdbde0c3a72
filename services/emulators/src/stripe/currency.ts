// How Stripe counts amounts, per its currency documentation. Stripe keeps its
// own list rather than ISO 4217: MGA is zero-decimal at Stripe, ISK stays
// two-decimal for compatibility, and three-decimal amounts must end in 0.
const zeroDecimal = new Set([
  "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf",
]);
const threeDecimal = new Set(["bhd", "jod", "kwd", "omr", "tnd"]);

export function stripeExponent(currency: string): number {
  if (zeroDecimal.has(currency)) return 0;
  if (threeDecimal.has(currency)) return 3;
  return 2;
}

// The smallest step Stripe accepts in the currency's units.
export function stripeAmountStep(currency: string): number {
  if (threeDecimal.has(currency)) return 10;
  if (currency === "isk") return 100;
  return 1;
}

// The amount as a major-unit decimal string, e.g. (1230, "kwd") -> "1.230".
export function formatStripeAmount(amount: number, currency: string): string {
  const exponent = stripeExponent(currency);
  if (exponent === 0) return String(amount);
  const digits = String(amount).padStart(exponent + 1, "0");
  return `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}
