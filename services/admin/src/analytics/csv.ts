// CSV as RFC 4180 writes it (CRLF line ends, fields quoted when they hold a
// quote, comma or line break), with text that a spreadsheet would run as a
// formula neutralized: a text cell starting with =, +, -, @, tab or carriage
// return gets a leading apostrophe. Numbers are written as they are, so a
// negative amount stays a number.

export type CsvCell = string | number | bigint | boolean | Date | null | undefined;

const formulaStart = /^[=+\-@\t\r]/;

export function csvCell(value: CsvCell): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") return String(value);
  const text = value instanceof Date ? value.toISOString() : formulaStart.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvLine(cells: readonly CsvCell[]): string {
  return `${cells.map(csvCell).join(",")}\r\n`;
}
