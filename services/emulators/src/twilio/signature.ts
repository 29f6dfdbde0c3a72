import { createHmac } from "node:crypto";

// X-Twilio-Signature of a form-encoded request Twilio sends: the base64
// HMAC-SHA1, keyed with the account's auth token, of the full URL followed by
// each POST parameter's name and value, in order of name.
export function signTwilioRequest(authToken: string, url: string, params: Record<string, string>): string {
  const signed = Object.keys(params)
    .sort()
    .reduce((text, name) => text + name + params[name], url);
  return createHmac("sha1", authToken).update(signed, "utf8").digest("base64");
}
