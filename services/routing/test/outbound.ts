import { ProviderOutbound, type ProviderTransport } from "../src/provider-outbound";

// Test-only: transports for connector tests that call emulators on loopback.

const loopback = ["127.0.0.0/8", "::1/128"];

// What an operator running the emulators allows: loopback addresses.
export function loopbackTransport(): ProviderTransport {
  return new ProviderOutbound({ baseUrls: [], allowedCidrs: loopback }).transport({}, {});
}

// The default rules for a base_url an operator allowed: its address must
// still be public, so a loopback one is refused at connect time.
export function overrideTransport(baseUrl: string, allowedCidrs: readonly string[] = []): ProviderTransport {
  const settings = { base_url: baseUrl };
  return new ProviderOutbound({ baseUrls: [baseUrl], allowedCidrs }).transport(settings, settings);
}
