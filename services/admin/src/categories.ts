import { Category } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { invalidArgument } from "@onerouter/core";
import { type ProviderCategory } from "@onerouter/routing";

// The API speaks the Category enum; storage and provider descriptors use
// names (core's categoryFromName goes the other way).

const names: Partial<Record<Category, ProviderCategory>> = {
  [Category.PAYMENTS]: "payments",
  [Category.MESSAGING]: "messaging",
};

// A category the request must name; UNSPECIFIED or an unknown number is the
// caller's mistake.
export function requireCategory(category: Category, field: string): ProviderCategory {
  const name = names[category];
  if (!name) throw invalidArgument(field, "must be CATEGORY_PAYMENTS or CATEGORY_MESSAGING");
  return name;
}
