import { describe, expect, it } from "vitest";
import { forbiddenDestination, parseCidr, parseIp } from "./addresses";

describe("forbiddenDestination", () => {
  it.each([
    ["10.0.0.5", "a private address"],
    ["172.16.0.1", "a private address"],
    ["172.31.255.255", "a private address"],
    ["192.168.1.1", "a private address"],
    ["127.0.0.1", "a loopback address"],
    ["127.200.0.1", "a loopback address"],
    ["169.254.169.254", "a link-local address"],
    ["0.0.0.0", "an unspecified address"],
    ["0.1.2.3", "a reserved address"],
    ["100.64.0.1", "a shared (carrier-grade NAT) address"],
    ["192.0.0.8", "a reserved address"],
    ["198.18.0.1", "a benchmarking address"],
    ["198.19.255.255", "a benchmarking address"],
    ["224.0.0.1", "a multicast address"],
    ["240.0.0.1", "a reserved address"],
    ["255.255.255.255", "a broadcast address"],
    ["::", "an unspecified address"],
    ["::1", "a loopback address"],
    ["[::1]", "a loopback address"],
    ["fe80::1", "a link-local address"],
    ["fe80::1%eth0", "a link-local address"],
    ["fc00::1", "a unique-local address"],
    ["fd12:3456::1", "a unique-local address"],
    ["ff02::1", "a multicast address"],
    ["::ffff:10.0.0.1", "a private address"],
    ["::ffff:7f00:1", "a loopback address"],
    ["::ffff:169.254.169.254", "a link-local address"],
    ["64:ff9b::a9fe:a9fe", "a link-local address"],
    ["not-an-address", "not an IP address"],
  ])("refuses %s as %s", (address, kind) => {
    expect(forbiddenDestination(address, [])).toBe(kind);
  });

  it.each(["8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"])(
    "lets %s through",
    (address) => {
      expect(forbiddenDestination(address, [])).toBeUndefined();
    },
  );

  it("lets the allow-list through, IPv4-mapped forms included", () => {
    const allowList = ["127.0.0.0/8", "10.1.0.0/16", "fd00::/8"].map(parseCidr);
    expect(forbiddenDestination("127.0.0.1", allowList)).toBeUndefined();
    expect(forbiddenDestination("::ffff:127.0.0.1", allowList)).toBeUndefined();
    expect(forbiddenDestination("10.1.2.3", allowList)).toBeUndefined();
    expect(forbiddenDestination("fd00::2", allowList)).toBeUndefined();
    expect(forbiddenDestination("10.2.0.1", allowList)).toBe("a private address");
    expect(forbiddenDestination("::1", allowList)).toBe("a loopback address");
  });
});

describe("parseCidr and parseIp", () => {
  it("reads IPv4 and IPv6 ranges and single addresses", () => {
    expect(parseCidr("10.0.0.0/8")).toEqual({ family: 4, network: 0x0a000000n, prefix: 8 });
    expect(parseCidr("10.9.8.7/8").network).toBe(0x0a000000n);
    expect(parseCidr("::1")).toEqual({ family: 6, network: 1n, prefix: 128 });
    expect(parseIp("1:2:3:4:5:6:7:8")?.value).toBe(0x00010002000300040005000600070008n);
    expect(parseIp("::ffff:1.2.3.4")).toEqual(parseIp("::ffff:102:304"));
    expect(parseIp("2001:db8::")?.value).toBe(0x20010db8n << 96n);
  });

  it.each(["10.0.0.0/33", "::/129", "10.0.0/8", "example.com/8", "10.0.0.0/8/1", "10.0.0.0/x"])("refuses %s", (text) => {
    expect(() => parseCidr(text)).toThrow(/CIDR|prefix/);
  });
});
