import { currencyExponent, fromDecimalString, toDecimalString } from "@onerouter/core";
import { ConnectorError } from "../connector";
import type { PaypalMoney } from "./wire";

// Currencies PayPal accepts for payments from any country. BRL, CNY, INR and
// MYR are left out: PayPal takes them only for in-country accounts. KWD is
// not a PayPal currency at all.
export const paypalCurrencies = [
  "AUD", "CAD", "CHF", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF", "ILS", "JPY",
  "MXN", "NOK", "NZD", "PHP", "PLN", "SEK", "SGD", "THB", "TWD", "USD",
] as const;

const supported = new Set<string>(paypalCurrencies);

// PayPal takes no fraction for these even where ISO 4217 has minor units
// (HUF and TWD have two): amounts must be whole major units.
const wholeUnitCurrencies = new Set(["HUF", "JPY", "TWD"]);

function unsupported(message: string, reason: string): ConnectorError {
  return new ConnectorError("invalid_request", "paypal", message, { reason });
}

export function assertSupportedCurrency(currency: string): void {
  if (!supported.has(currency)) {
    throw unsupported(`PayPal does not support ${currency}`, "CURRENCY_NOT_SUPPORTED");
  }
}

// OneRouter minor units -> PayPal's { currency_code, value } in major units.
export function toPaypalMoney(amount: bigint, currency: string): PaypalMoney {
  assertSupportedCurrency(currency);
  if (wholeUnitCurrencies.has(currency)) {
    const unit = 10n ** BigInt(currencyExponent(currency));
    if (amount % unit !== 0n) {
      throw unsupported(`PayPal takes only whole ${currency} amounts`, "AMOUNT_PRECISION_NOT_SUPPORTED");
    }
    return { currency_code: currency, value: (amount / unit).toString() };
  }
  return { currency_code: currency, value: toDecimalString(amount, currency) };
}

export function fromPaypalMoney(money: PaypalMoney): bigint {
  return fromDecimalString(money.value, money.currency_code);
}
