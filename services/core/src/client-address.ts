import { BlockList, isIP } from "node:net";

// Who is calling: the socket's peer, unless that peer is a trusted proxy.
// Behind trusted proxies the client is the last X-Forwarded-For entry that
// is not itself a trusted proxy: each proxy appends the peer it saw, so
// entries further left are whatever the client chose to send.

export type ClientAddressResolver = (peer: string, forwardedFor: string | string[] | undefined) => string;

// "::ffff:10.0.0.1" is the IPv4 peer 10.0.0.1 on a dual-stack socket.
function plain(address: string): string {
  return address.startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

function trustedPeers(trustedProxyCidrs: string[]): (address: string) => boolean {
  const trusted = new BlockList();
  for (const cidr of trustedProxyCidrs) {
    const [address = "", prefix] = cidr.split("/");
    const family = isIP(address) === 4 ? "ipv4" : "ipv6";
    if (prefix === undefined) trusted.addAddress(address, family);
    else trusted.addSubnet(address, Number(prefix), family);
  }
  const isTrusted = (address: string) => {
    const family = isIP(address);
    return family !== 0 && trusted.check(address, family === 4 ? "ipv4" : "ipv6");
  };
  return isTrusted;
}

export function clientAddressResolver(trustedProxyCidrs: string[]): ClientAddressResolver {
  const isTrusted = trustedPeers(trustedProxyCidrs);
  return (peer, forwardedFor) => {
    let client = plain(peer);
    if (trustedProxyCidrs.length === 0 || !isTrusted(client) || forwardedFor === undefined) return client;
    const hops = [forwardedFor].flat().join(",").split(",").map((hop) => plain(hop.trim()));
    while (isTrusted(client) && hops.length > 0) {
      const hop = hops.pop()!;
      if (isIP(hop) === 0) break;
      client = hop;
    }
    return client;
  };
}

// The origin a request was addressed to, as its sender saw it: this server
// speaks cleartext HTTP, so only a trusted proxy's X-Forwarded-Proto (and
// X-Forwarded-Host) can say it was HTTPS or another host.
export interface RequestOrigin {
  origin: string;
  secure: boolean;
}

type HeaderValue = string | string[] | undefined;

export function requestOriginResolver(
  trustedProxyCidrs: string[],
): (peer: string, headers: Record<string, HeaderValue>) => RequestOrigin {
  const isTrusted = trustedPeers(trustedProxyCidrs);
  // A proxy chain lists one value per hop; the first is what the client used.
  const first = (value: HeaderValue) => [value].flat()[0]?.split(",")[0]?.trim() || undefined;
  return (peer, headers) => {
    const host = first(headers.host) ?? first(headers[":authority"]) ?? "";
    if (!trustedProxyCidrs.length || !isTrusted(plain(peer))) return { origin: host && `http://${host}`, secure: false };
    const scheme = first(headers["x-forwarded-proto"])?.toLowerCase() === "https" ? "https" : "http";
    const forwardedHost = first(headers["x-forwarded-host"]) ?? host;
    return { origin: forwardedHost && `${scheme}://${forwardedHost}`, secure: scheme === "https" };
  };
}
