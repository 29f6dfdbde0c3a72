// How many SMS segments a text takes (GSM 03.38): GSM-7 text fits 160
// septets in one message or 153 per part of a longer one, and the extension
// characters take two septets each; any other character makes the message
// UCS-2, 70 UTF-16 units alone or 67 per part. Shared by the SMS emulators.

const gsmBasic = new Set(
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà",
);
const gsmExtension = new Set("\f^{}\\[~]|€");

export function smsSegments(text: string): number {
  let septets = 0;
  for (const char of text) {
    if (gsmBasic.has(char)) septets += 1;
    else if (gsmExtension.has(char)) septets += 2;
    else return text.length <= 70 ? 1 : Math.ceil(text.length / 67);
  }
  return septets <= 160 ? 1 : Math.ceil(septets / 153);
}
