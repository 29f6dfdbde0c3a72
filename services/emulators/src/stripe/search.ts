// A subset of Stripe's search query language for PaymentIntents: exact-match
// clauses joined by AND or OR (Stripe forbids mixing the two), e.g.
//   metadata['order_id']:'42' AND status:'succeeded'
// Values are quoted with ' or "; a backslash escapes the quote.
export interface SearchClause {
  field: string;
  // For metadata clauses, the metadata key.
  key?: string;
  value: string;
}

export interface SearchQuery {
  join: "AND" | "OR";
  clauses: SearchClause[];
}

export const searchableFields = new Set(["amount", "currency", "customer", "metadata", "status"]);

export class SearchSyntaxError extends Error {}

const quoted = String.raw`(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")`;
const clausePattern = new RegExp(String.raw`^\s*([a-z_]+)(?:\[${quoted}\])?:(?:${quoted}|([^\s'"]+))\s*`);

function unescape(value: string): string {
  return value.replace(/\\(.)/g, "$1");
}

export function parseSearchQuery(query: string): SearchQuery {
  const clauses: SearchClause[] = [];
  const joins = new Set<"AND" | "OR">();
  let rest = query;
  for (;;) {
    const match = clausePattern.exec(rest);
    if (!match) throw new SearchSyntaxError(`Invalid search query: ${query}`);
    const [whole, field, keySingle, keyDouble, valueSingle, valueDouble, bare] = match;
    const key = keySingle ?? keyDouble;
    if (!searchableFields.has(field as string)) {
      throw new SearchSyntaxError(
        `Field \`${field}\` is an unsupported search field for resource \`payment_intents\`.`,
      );
    }
    if ((field === "metadata") !== (key !== undefined)) throw new SearchSyntaxError(`Invalid search query: ${query}`);
    clauses.push({
      field: field as string,
      ...(key !== undefined && { key: unescape(key) }),
      value: unescape(valueSingle ?? valueDouble ?? bare ?? ""),
    });
    rest = rest.slice(whole.length);
    if (rest.trim() === "") break;
    const join = /^(AND|OR)\s+/.exec(rest);
    if (!join) throw new SearchSyntaxError(`Invalid search query: ${query}`);
    joins.add(join[1] as "AND" | "OR");
    rest = rest.slice(join[0].length);
  }
  if (joins.size > 1) throw new SearchSyntaxError("Queries cannot mix AND and OR.");
  return { join: joins.has("OR") ? "OR" : "AND", clauses };
}

export function matchesSearch(query: SearchQuery, read: (clause: SearchClause) => string | undefined): boolean {
  const results = query.clauses.map((clause) => read(clause) === clause.value);
  return query.join === "AND" ? results.every(Boolean) : results.some(Boolean);
}
