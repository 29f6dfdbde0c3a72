import type { Knex } from "knex";

// Erasing a person's contact data (an email address, a phone number) while
// the financial records stay: each room redacts its own tables; stored
// binary values (events, idempotent answers, raw provider payloads) have each
// occurrence overwritten in place, byte for byte, so their framing (protobuf
// lengths, JSON) stays valid and everything else in them stays readable.

export interface Contact {
  email?: string;
  phone?: string;
}

export const erasedMark = "*";

// Whether `value` names the person: emails compare without case.
export function isContact(contact: Contact, value: string | undefined): boolean {
  if (!value) return false;
  if (contact.email && value.toLowerCase() === contact.email.toLowerCase()) return true;
  return contact.phone !== undefined && value === contact.phone;
}

function maskAll(bytes: Buffer, needles: Buffer[]): Buffer {
  const out = Buffer.from(bytes);
  for (const needle of needles) {
    for (let at = out.indexOf(needle); at >= 0; at = out.indexOf(needle, at + needle.length)) {
      out.fill(erasedMark, at, at + needle.length);
    }
  }
  return out;
}

const distinct = (values: string[]) => [...new Set(values.filter((v) => v !== ""))].map((v) => Buffer.from(v, "utf8"));

// Overwrites every occurrence of `needles` (an email, a phone number) in the
// binary `column` of the tenant's rows of `table` (those matching `where`, if
// given), and of `alongside` (the person's name: too common to look for on
// its own) in those rows; returns how many rows changed.
export async function maskInBinaryColumn(
  trx: Knex,
  target: { table: string; column: string; keyColumns: string[]; tenantId: string; where?: Record<string, string> },
  needles: string[],
  alongside: string[] = [],
): Promise<number> {
  const wanted = distinct(needles);
  if (wanted.length === 0) return 0;
  const masked = [...wanted, ...distinct(alongside)];
  const rows = (await trx(target.table)
    .where({ ...target.where, tenant_id: target.tenantId })
    .whereNotNull(target.column)
    .where((q) => {
      for (const needle of wanted) q.orWhereRaw("position(convert_to(?, 'UTF8') in ??) > 0", [needle.toString("utf8"), target.column]);
    })
    .select(...target.keyColumns, target.column)
    .forUpdate()) as Record<string, unknown>[];
  for (const row of rows) {
    const key = Object.fromEntries(target.keyColumns.map((c) => [c, row[c]]));
    await trx(target.table)
      .where(key)
      .update({ [target.column]: maskAll(Buffer.from(row[target.column] as Uint8Array), masked) });
  }
  return rows.length;
}
