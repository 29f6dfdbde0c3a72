import { createHash, createHmac } from "node:crypto";

// The signature methods a Vonage account can choose in its dashboard, by the
// names Vonage's SDKs give them. "md5hash" is the dashboard's default.
export type VonageSignatureMethod = "md5hash" | "md5hmac" | "sha1hmac" | "sha256hmac" | "sha512hmac";

const hmacAlgorithms = { md5hmac: "md5", sha1hmac: "sha1", sha256hmac: "sha256", sha512hmac: "sha512" } as const;

// The `sig` Vonage adds to a signed request: every other parameter, sorted by
// name, as `&name=value` with "&" and "=" in values replaced by "_"; then the
// MD5 of that text followed by the secret ("md5hash"), or its HMAC keyed with
// the secret. Vonage writes the MD5 hash in lower case and HMACs in upper case.
export function signVonageParams(
  params: Record<string, string>,
  signatureSecret: string,
  method: VonageSignatureMethod,
): string {
  const signed = Object.keys(params)
    .filter((name) => name !== "sig")
    .sort()
    .map((name) => `&${name}=${(params[name] as string).replace(/[&=]/g, "_")}`)
    .join("");
  if (method === "md5hash") return createHash("md5").update(signed + signatureSecret, "utf8").digest("hex");
  return createHmac(hmacAlgorithms[method], signatureSecret).update(signed, "utf8").digest("hex").toUpperCase();
}
