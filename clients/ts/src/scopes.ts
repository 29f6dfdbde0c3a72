import type { DescMethod } from "@bufbuild/protobuf";
import { isMutatingMethod } from "./interceptors";

// An API key's scopes are `<area>:read` and `<area>:write`, where the area is
// the second part of a service's proto package (onerouter.payments.v1 →
// payments). Write does not include read. A key with no scopes holds them all.

export const scopeAreas = ["payments", "messaging", "webhooks", "admin"] as const;

/** Every scope a key can hold. */
export const apiKeyScopes: readonly string[] = scopeAreas.flatMap((area) => [`${area}:read`, `${area}:write`]);

/** The scope a call of `method` needs. */
export function requiredScope(method: DescMethod): string {
  const service = method.parent.typeName;
  const area = service.split(".")[1] ?? service;
  return `${area}:${isMutatingMethod(method) ? "write" : "read"}`;
}

/** The scopes a key with `scopes` holds: all of them when it names none. */
export function heldScopes(scopes: readonly string[]): string[] {
  return scopes.length === 0 ? [...apiKeyScopes] : [...scopes];
}
