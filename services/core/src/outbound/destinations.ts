import { lookup } from "node:dns/promises";
import type { LookupFunction } from "node:net";
import { forbiddenDestination, parseIp, type Cidr } from "./addresses";

// A destination host vetted once: resolved, every address checked, and the
// connection then made to exactly those addresses (pinnedLookup), so a
// second DNS answer cannot lead it elsewhere (DNS rebinding).

export interface ResolvedAddress {
  address: string;
  family: number;
}

export type Vetted = { addresses: ResolvedAddress[] } | { refused: string };

// The host's addresses when every one of them may be reached, or why not.
// DNS failures are thrown as they come (ENOTFOUND, ...); an empty answer is
// an empty list.
export async function vetDestination(hostname: string, allowList: readonly Cidr[], deadline?: AbortSignal): Promise<Vetted> {
  const host = hostname.replace(/^\[(.*)\]$/, "$1");
  const literal = parseIp(host);
  const addresses: ResolvedAddress[] = literal
    ? [{ address: host, family: literal.family }]
    : await abortable(lookup(host, { all: true, verbatim: true }), deadline);
  for (const { address } of addresses) {
    const forbidden = forbiddenDestination(address, allowList);
    if (forbidden === undefined) continue;
    return { refused: literal ? `destination ${address} is ${forbidden}` : `destination ${host} resolves to ${address}, ${forbidden}` };
  }
  return { addresses };
}

// Hands the connection the addresses already vetted instead of asking DNS
// again, which could answer differently the second time. TLS still names the
// host (SNI) and the Host header still carries it.
export function pinnedLookup(addresses: readonly ResolvedAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    if (options.all) callback(null, [...addresses]);
    else callback(null, addresses[0]!.address, addresses[0]!.family);
  };
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

// `raw` as an http:// or https:// URL, or why it is not one (worded to
// follow the name of the field that holds it).
export function httpUrl(raw: string): URL | string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "is not a URL";
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return "must be an http:// or https:// URL";
  return url;
}
