import type { ProviderCategory } from "./provider-accounts";

// What the admin API needs to know about a provider to manage accounts for
// it: the connector registry gives one descriptor per registered connector.
export interface ProviderDescriptor {
  name: string;
  category: ProviderCategory;
  credentialKeys: readonly string[];
  // Throws when the provider rejects the credentials or cannot be reached.
  testCredentials(ctx: { credentials: Record<string, string>; settings: Record<string, string>; timeoutMs: number }): Promise<void>;
}
