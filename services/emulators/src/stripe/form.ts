// Stripe's API takes application/x-www-form-urlencoded bodies and query
// strings with bracket notation: metadata[order]=42, expand[0]=latest_charge,
// expand[]=latest_charge. This turns them back into nested values.
export type StripeParam = string | StripeParam[] | { [key: string]: StripeParam };
export type StripeParams = { [key: string]: StripeParam };

export function parseStripeParams(encoded: URLSearchParams | string): StripeParams {
  const pairs = typeof encoded === "string" ? new URLSearchParams(encoded) : encoded;
  const root: StripeParams = {};
  for (const [name, value] of pairs) {
    const match = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(name);
    if (!match) throw new Error(`Invalid parameter name: ${name}`);
    const path = [match[1] as string, ...[...(match[2] ?? "").matchAll(/\[([^[\]]*)\]/g)].map((m) => m[1] as string)];
    assign(root, path, value);
  }
  return root;
}

function assign(target: StripeParams | StripeParam[], path: string[], value: string) {
  const [head, ...rest] = path as [string, ...string[]];
  const container = target as Record<string, StripeParam>;
  // `expand[]=a&expand[]=b` appends; numbered indices land where they say.
  const key = Array.isArray(target) && head === "" ? String(target.length) : head;
  if (rest.length === 0) {
    container[key] = value;
    return;
  }
  const nextIsList = rest[0] === "" || /^\d+$/.test(rest[0] as string);
  let child = container[key];
  if (child === undefined || typeof child === "string") {
    child = nextIsList ? [] : {};
    container[key] = child;
  }
  assign(child as StripeParams | StripeParam[], rest, value);
}
