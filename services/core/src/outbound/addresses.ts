import { isIP } from "node:net";

// Where OneRouter may not send a request (a webhook delivery, a provider
// call): the address ranges that reach the deployment's own network or no
// real host, checked after DNS resolution. An operator's allow-list
// (ONEROUTER_WEBHOOK_ALLOWED_CIDRS, ONEROUTER_PROVIDER_ALLOWED_CIDRS) opens
// chosen ranges again.

export interface IpAddress {
  family: 4 | 6;
  value: bigint;
}

export interface Cidr {
  family: 4 | 6;
  network: bigint;
  prefix: number;
}

const bitsOf = (family: 4 | 6) => (family === 4 ? 32 : 128);

// Accepts what node:net's isIP accepts, with optional [brackets] and %zone.
export function parseIp(text: string): IpAddress | undefined {
  const bare = text.replace(/^\[(.*)\]$/, "$1").replace(/%.*$/, "");
  const family = isIP(bare);
  if (family === 4) {
    return { family, value: bare.split(".").reduce((acc, part) => (acc << 8n) | BigInt(part), 0n) };
  }
  if (family !== 6) return undefined;
  let groupsText = bare;
  // A trailing dotted quad (::ffff:10.0.0.1) is the last two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(groupsText);
  if (dotted) {
    const v4 = parseIp(dotted[1]!)!.value;
    groupsText = `${groupsText.slice(0, -dotted[1]!.length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = "", tail] = groupsText.split("::");
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups =
    tail === undefined
      ? headGroups
      : [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill("0"), ...tailGroups];
  return { family, value: groups.reduce((acc, group) => (acc << 16n) | BigInt(parseInt(group, 16)), 0n) };
}

// "10.0.0.0/8", "fc00::/7"; a bare address is a single-address range.
export function parseCidr(text: string): Cidr {
  const [addressText = "", prefixText, extra] = text.trim().split("/");
  const address = parseIp(addressText);
  if (!address || extra !== undefined) throw new Error(`"${text}" is not a CIDR range such as 10.0.0.0/8 or fd00::/8`);
  const bits = bitsOf(address.family);
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (!/^\d+$/.test(prefixText ?? String(bits)) || prefix > bits) {
    throw new Error(`"${text}" has a prefix length outside 0 to ${bits}`);
  }
  const shift = BigInt(bits - prefix);
  return { family: address.family, network: (address.value >> shift) << shift, prefix };
}

export function cidrContains(cidr: Cidr, address: IpAddress): boolean {
  if (cidr.family !== address.family) return false;
  const shift = BigInt(bitsOf(cidr.family) - cidr.prefix);
  return address.value >> shift === cidr.network >> shift;
}

// An IPv6 address that stands for an IPv4 one reaches that IPv4 host:
// IPv4-mapped (::ffff:0:0/96) on the local stack, NAT64 (64:ff9b::/96)
// through a translator.
const ipv4Carriers = [parseCidr("::ffff:0:0/96"), parseCidr("64:ff9b::/96")];

function embeddedIpv4(address: IpAddress): IpAddress | undefined {
  if (address.family !== 6 || !ipv4Carriers.some((carrier) => cidrContains(carrier, address))) return undefined;
  return { family: 4, value: address.value & 0xffffffffn };
}

// First match wins, so the narrower, better-named ranges come first.
const forbiddenRanges: { cidr: Cidr; kind: string }[] = (
  [
    ["0.0.0.0/32", "an unspecified address"],
    ["0.0.0.0/8", "a reserved address"],
    ["10.0.0.0/8", "a private address"],
    ["100.64.0.0/10", "a shared (carrier-grade NAT) address"],
    ["127.0.0.0/8", "a loopback address"],
    ["169.254.0.0/16", "a link-local address"],
    ["172.16.0.0/12", "a private address"],
    ["192.0.0.0/24", "a reserved address"],
    ["192.0.2.0/24", "a documentation address"],
    ["192.88.99.0/24", "a reserved address"],
    ["192.168.0.0/16", "a private address"],
    ["198.18.0.0/15", "a benchmarking address"],
    ["198.51.100.0/24", "a documentation address"],
    ["203.0.113.0/24", "a documentation address"],
    ["224.0.0.0/4", "a multicast address"],
    ["255.255.255.255/32", "a broadcast address"],
    ["240.0.0.0/4", "a reserved address"],
    ["::/128", "an unspecified address"],
    ["::1/128", "a loopback address"],
    // IPv4-compatible addresses, deprecated and never a real destination.
    ["::/96", "a reserved address"],
    ["64:ff9b:1::/48", "a reserved address"],
    ["100::/64", "a reserved address"],
    ["2001:2::/48", "a benchmarking address"],
    ["2001:db8::/32", "a documentation address"],
    ["fc00::/7", "a unique-local address"],
    ["fe80::/10", "a link-local address"],
    ["fec0::/10", "a site-local address"],
    ["ff00::/8", "a multicast address"],
  ] as const
).map(([cidr, kind]) => ({ cidr: parseCidr(cidr), kind }));

// Why a request may not go to this address ("a private address"), or
// undefined when it may. Unparseable text is refused too.
export function forbiddenDestination(addressText: string, allowList: readonly Cidr[]): string | undefined {
  const address = parseIp(addressText);
  if (!address) return "not an IP address";
  const candidates = [address, embeddedIpv4(address)].filter((a): a is IpAddress => a !== undefined);
  if (candidates.some((a) => allowList.some((cidr) => cidrContains(cidr, a)))) return undefined;
  for (const candidate of candidates) {
    const range = forbiddenRanges.find((r) => cidrContains(r.cidr, candidate));
    if (range) return range.kind;
  }
  return undefined;
}
