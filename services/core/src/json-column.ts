// jsonb columns come back parsed from pg and PGlite alike, but a driver or a
// raw query may hand over the text; either way the value is read as JSON.
export const jsonColumn = <T>(value: T | string): T => (typeof value === "string" ? (JSON.parse(value) as T) : value);
