// Checking the shape of JSON or errors a provider hands a connector.

type FieldType = "string" | "number" | "object";

// True when `value` is an object whose named fields have the given types;
// "object" means a non-null object.
export function hasFieldTypes(value: unknown, fields: Record<string, FieldType>): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const record = value as Record<string, unknown>;
  return Object.entries(fields).every(([name, type]) => typeof record[name] === type && record[name] !== null);
}
