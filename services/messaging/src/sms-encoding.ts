// How an SMS body travels (GSM 03.38): text made only of the GSM-7 alphabet
// goes as 7-bit septets, where the extension characters take two; anything
// else makes the whole message UCS-2, counted in UTF-16 units. One message
// holds 160 septets or 70 units; a longer text is split into parts of 153
// or 67, the rest of each part carrying the header that joins them.

export type SmsEncoding = "gsm7" | "ucs2";

const gsmBasic = new Set(
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà",
);
const gsmExtension = new Set("\f^{}\\[~]|€");

const limits = {
  gsm7: { single: 160, part: 153 },
  ucs2: { single: 70, part: 67 },
} as const;

export function smsEncoding(text: string): SmsEncoding {
  for (const char of text) if (!gsmBasic.has(char) && !gsmExtension.has(char)) return "ucs2";
  return "gsm7";
}

export function smsSegments(text: string): { encoding: SmsEncoding; segments: number } {
  const encoding = smsEncoding(text);
  let length = text.length;
  if (encoding === "gsm7") {
    length = 0;
    for (const char of text) length += gsmExtension.has(char) ? 2 : 1;
  }
  const { single, part } = limits[encoding];
  return { encoding, segments: length <= single ? 1 : Math.ceil(length / part) };
}
