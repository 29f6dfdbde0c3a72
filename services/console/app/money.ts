// How many digits a currency's minor unit has (2 for EUR, 0 for JPY, 3 for
// KWD): amounts travel in minor units, and Intl knows each exponent.
export function currencyDigits(currency: string): number {
  return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
}
