// E.164 numbers and the country they ring in, from the calling code. The
// table is compact: the countries SMS providers commonly deliver to, without
// those under sanctions they refuse. Within the North American Numbering
// Plan, Canadian area codes are told apart; every other +1 number is priced
// as the United States.

// "+", a first digit that is not 0, 8 to 15 digits in all.
const e164 = /^\+[1-9]\d{7,14}$/;
// NANP: a three-digit area code and exchange, neither starting with 0 or 1.
const nanp = /^\+1[2-9]\d{2}[2-9]\d{6}$/;

const canadianAreaCodes = new Set(
  (
    "204 226 236 249 250 257 263 289 306 343 354 365 367 368 382 403 416 418 428 431 437 438 450 460 468 474 " +
    "506 514 519 548 579 581 584 587 604 613 639 647 672 683 705 709 742 753 778 780 782 807 819 825 867 873 " +
    "879 902 905 942"
  ).split(" "),
);

const countryByCallingCode: Record<string, string> = {
  // Zone 2: Africa and a few others.
  "20": "EG", "27": "ZA", "212": "MA", "213": "DZ", "216": "TN", "220": "GM", "221": "SN", "225": "CI",
  "233": "GH", "234": "NG", "237": "CM", "251": "ET", "254": "KE", "255": "TZ", "256": "UG", "260": "ZM",
  "263": "ZW",
  // Zones 3 and 4: Europe.
  "30": "GR", "31": "NL", "32": "BE", "33": "FR", "34": "ES", "36": "HU", "39": "IT", "40": "RO", "41": "CH",
  "43": "AT", "44": "GB", "45": "DK", "46": "SE", "47": "NO", "48": "PL", "49": "DE", "351": "PT", "352": "LU",
  "353": "IE", "354": "IS", "356": "MT", "357": "CY", "358": "FI", "359": "BG", "370": "LT", "371": "LV",
  "372": "EE", "373": "MD", "380": "UA", "381": "RS", "385": "HR", "386": "SI", "387": "BA", "420": "CZ",
  "421": "SK",
  // Zone 5: Latin America.
  "51": "PE", "52": "MX", "54": "AR", "55": "BR", "56": "CL", "57": "CO", "58": "VE", "502": "GT", "503": "SV",
  "504": "HN", "506": "CR", "507": "PA", "591": "BO", "593": "EC", "595": "PY", "598": "UY",
  // Zone 6: South-East Asia and Oceania.
  "60": "MY", "61": "AU", "62": "ID", "63": "PH", "64": "NZ", "65": "SG", "66": "TH",
  // Zone 7: Russia and Kazakhstan.
  "7": "RU", "76": "KZ", "77": "KZ",
  // Zones 8 and 9: East, South and West Asia.
  "81": "JP", "82": "KR", "84": "VN", "86": "CN", "852": "HK", "853": "MO", "855": "KH", "880": "BD", "886": "TW",
  "90": "TR", "91": "IN", "92": "PK", "94": "LK", "95": "MM", "960": "MV", "961": "LB", "962": "JO", "965": "KW",
  "966": "SA", "968": "OM", "971": "AE", "972": "IL", "973": "BH", "974": "QA", "977": "NP", "994": "AZ",
  "995": "GE", "998": "UZ",
};

export function isE164(number: string): boolean {
  return e164.test(number) && (!number.startsWith("+1") || nanp.test(number));
}

// ISO 3166-1 alpha-2 of an E.164 number; undefined when the calling code is
// not in the table.
export function countryOfNumber(number: string): string | undefined {
  if (number.startsWith("+1")) return canadianAreaCodes.has(number.slice(2, 5)) ? "CA" : "US";
  // Longest first: Kazakhstan's 76 and 77 sit inside Russia's 7.
  for (const length of [3, 2, 1]) {
    const country = countryByCallingCode[number.slice(1, 1 + length)];
    if (country) return country;
  }
  return undefined;
}
