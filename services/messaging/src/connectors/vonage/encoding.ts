import { smsEncoding } from "../../sms-encoding";

// Vonage sends `text` in the GSM 03.38 alphabet unless told `type: unicode`;
// a character outside it (basic set plus the extension table) would arrive
// garbled.
export function needsUnicode(text: string): boolean {
  return smsEncoding(text) === "ucs2";
}
