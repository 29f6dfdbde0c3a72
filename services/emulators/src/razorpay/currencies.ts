// Razorpay's currency subunits. Amounts travel as integers in these
// subunits: paise for INR, cents for USD, yen for JPY (no decimals) and fils
// for KWD, BHD and OMR (three decimals, where Razorpay only accepts amounts
// whose last digit is 0).
const subunitExponents: Record<string, number> = {
  INR: 2, USD: 2, EUR: 2, GBP: 2, SGD: 2, AED: 2, AUD: 2, CAD: 2, CHF: 2, HKD: 2,
  MYR: 2, NZD: 2, SAR: 2, QAR: 2, SEK: 2, DKK: 2, NOK: 2, ZAR: 2, THB: 2,
  JPY: 0,
  KWD: 3, BHD: 3, OMR: 3,
};

export function subunitExponent(currency: string): number | undefined {
  return subunitExponents[currency];
}

// Reads subunits as Razorpay displays them in major units, e.g. 10050 INR -> "100.50".
export function formatSubunits(amount: number, currency: string): string {
  const exponent = subunitExponents[currency];
  if (exponent === undefined) throw new Error(`Razorpay does not support ${currency}`);
  const digits = String(amount).padStart(exponent + 1, "0");
  if (exponent === 0) return digits;
  return `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}

// Why Razorpay would refuse this amount in this currency, or undefined when it is fine.
export function amountProblem(amount: unknown, currency: string): string | undefined {
  if (typeof amount !== "number" || !Number.isSafeInteger(amount)) return "The amount must be an integer.";
  if (currency === "INR" && amount < 100) return "The amount must be atleast INR 1.00";
  if (amount < 1) return "The amount must be atleast 1";
  if (subunitExponents[currency] === 3 && amount % 10 !== 0) {
    return `The last digit of the amount must be 0 for ${currency}`;
  }
  return undefined;
}
