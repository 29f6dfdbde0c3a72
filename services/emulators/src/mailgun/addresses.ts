// Mailgun takes recipients as RFC 5322 address lists: each `to`, `cc` or
// `bcc` field may hold several comma-separated addresses, and the field may
// repeat. A display name may be quoted, and then may hold commas.

export interface MailgunAddress {
  email: string;
  name?: string;
}

const addressPattern = /^[^\s@<>(),;:"[\]\\]+@[^\s@<>(),;:"[\]\\]+\.[^\s@<>(),;:"[\]\\]+$/;

function splitList(field: string): string[] {
  const parts: string[] = [];
  let current = "";
  let quoted = false;
  let angled = false;
  for (let i = 0; i < field.length; i += 1) {
    const char = field[i] as string;
    if (quoted && char === "\\") {
      current += char + (field[i + 1] ?? "");
      i += 1;
      continue;
    }
    if (char === '"' && !angled) quoted = !quoted;
    if (char === "<" && !quoted) angled = true;
    if (char === ">" && !quoted) angled = false;
    if (char === "," && !quoted && !angled) {
      parts.push(current);
      current = "";
      continue;
    }
    current += char;
  }
  parts.push(current);
  return parts.map((part) => part.trim()).filter((part) => part !== "");
}

function parseMailbox(text: string): MailgunAddress | undefined {
  const named = /^(?:"((?:[^"\\]|\\.)*)"|([^"<]*?))\s*<([^<>]+)>$/.exec(text);
  if (named) {
    const email = (named[3] as string).trim();
    const name = named[1] !== undefined ? named[1].replace(/\\(.)/g, "$1") : (named[2] ?? "").trim();
    if (!addressPattern.test(email)) return undefined;
    return { email, ...(name && { name }) };
  }
  return addressPattern.test(text) ? { email: text } : undefined;
}

// The addresses in the values of one field; undefined when one is not an address.
export function parseAddressList(values: string[]): MailgunAddress[] | undefined {
  const addresses: MailgunAddress[] = [];
  for (const text of values.flatMap(splitList)) {
    const address = parseMailbox(text);
    if (!address) return undefined;
    addresses.push(address);
  }
  return addresses;
}

export function formatAddress(address: MailgunAddress): string {
  return address.name ? `${address.name} <${address.email}>` : address.email;
}
