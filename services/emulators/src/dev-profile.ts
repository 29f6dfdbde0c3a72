import type { ProviderEmulator } from "@onerouter/sandbox";

// What `onerouter dev` needs to know of an emulated provider: the account to
// create for it, how to start its emulator pointed at that account's inbound
// URL, where dev routing puts it, and how to report a message's delivery.
// Credentials mean nothing outside the emulators.
export interface DevProfile {
  // The provider name OneRouter's connector registers under.
  provider: string;
  // How the banner names it.
  title: string;
  category: "payments" | "messaging";
  // The account's credentials when it is created, before the emulator runs.
  credentials: Record<string, string>;
  // Account settings besides base_url, which is the running emulator's URL.
  settings?: Record<string, string>;
  // For payments: a payment method token the emulator approves, and where
  // dev routing puts the provider: among the default targets (in the order
  // of the profiles), and first for some currencies.
  payments?: {
    approvedToken: string;
    routedByDefault: boolean;
    preferredFor?: { rule: string; currencies: string[] };
  };
  // Builds the emulator; webhookUrl is the account's inbound provider-event URL.
  emulate(webhookUrl: string): DevEmulator;
}

export interface DevEmulator {
  emulator: ProviderEmulator;
  // The account's credentials once the emulator exists, when they depend on it.
  credentials?: Record<string, string>;
  // Reports a message's delivery as the provider's carrier would: the
  // provider sends its signed callback to OneRouter.
  reportDelivery?(providerMessageId: string, delivered: boolean): Promise<unknown>;
}

// An emulator asked about an object it never made, as the provider's API
// would answer 404 for an unknown id.
export class UnknownEmulatedObject extends Error {}
