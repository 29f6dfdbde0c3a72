// Vonage sends `text` in the GSM 03.38 alphabet unless told `type: unicode`;
// a character outside it (basic set plus the extension table) would arrive
// garbled.
const gsm7 = /^[@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&'()*+,\-./0-9:;<=>?¡A-ZÄÖÑÜ§¿a-zäöñüà\f^{}\\[~\]|€]*$/u;

export function needsUnicode(text: string): boolean {
  return !gsm7.test(text);
}
