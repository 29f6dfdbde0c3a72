// ISO 4217 minor-unit exponents that differ from the usual 2. Amounts in the
// API are always in these minor units; connectors convert from here.
const exponentOverrides: Record<string, number> = {
  BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0,
  RWF: 0, UGX: 0, UYI: 0, VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0,
  BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3,
  CLF: 4, UYW: 4,
};

// Active ISO 4217 currency codes (funds and precious metals aside): the ones
// whose minor unit is known, so the only ones an amount can be taken in.
const knownCurrencies = new Set(
  (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD " +
    "CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL " +
    "GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD " +
    "KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO " +
    "NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD " +
    "SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV " +
    "WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG"
  ).split(" "),
);

export function isKnownCurrency(currency: string): boolean {
  return knownCurrencies.has(currency);
}

export function currencyExponent(currency: string): number {
  return exponentOverrides[currency] ?? 2;
}

export function isCurrencyCode(currency: string): boolean {
  return /^[A-Z]{3}$/.test(currency);
}

// Renders minor units as a decimal string in the currency's major unit,
// e.g. (1234n, "USD") -> "12.34", (1234n, "KWD") -> "1.234", (5n, "JPY") -> "5".
export function toDecimalString(amount: bigint, currency: string): string {
  const exponent = currencyExponent(currency);
  const negative = amount < 0n;
  const digits = (negative ? -amount : amount).toString().padStart(exponent + 1, "0");
  const whole = digits.slice(0, digits.length - exponent);
  const fraction = exponent > 0 ? "." + digits.slice(digits.length - exponent) : "";
  return (negative ? "-" : "") + whole + fraction;
}

// Parses a decimal major-unit string into minor units, rejecting more
// fraction digits than the currency has.
export function fromDecimalString(value: string, currency: string): bigint {
  const exponent = currencyExponent(currency);
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(value.trim());
  if (!match) throw new Error(`not a decimal amount: ${value}`);
  const fraction = match[3] ?? "";
  if (fraction.replace(/0+$/, "").length > exponent) {
    throw new Error(`${value} has more decimals than ${currency} allows`);
  }
  const minor = BigInt((match[2] ?? "0") + fraction.padEnd(exponent, "0").slice(0, exponent));
  return match[1] === "-" ? -minor : minor;
}
