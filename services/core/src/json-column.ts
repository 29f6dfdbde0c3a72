// jsonb columns come back parsed from pg and PGlite alike, but a driver or a
// raw query may hand over the text; either way the value is read as JSON.
export type JsonColumn<T> = T | string;

export const jsonColumn = <T>(value: JsonColumn<T>): T => (typeof value === "string" ? (JSON.parse(value) as T) : value);
