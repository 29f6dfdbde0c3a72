import { getOption, hasOption, type DescExtension, type DescField, type DescMessage, type Message, type Registry } from "@bufbuild/protobuf";
import { reflect, type ReflectMessage } from "@bufbuild/protobuf/reflect";
import { anyUnpack, type Any } from "@bufbuild/protobuf/wkt";

// The protoc-gen-validate rules Envoy checks when it loads a config
// (`[(validate.rules)...]` on fields, `(validate.required)` on oneofs):
// required messages and oneofs, bounds on numbers, durations, strings,
// lists and maps, defined enum values. Unpacked Anys are checked as their
// own type. Regex rules (well_known_regex, pattern) are left to Envoy.

type Rules = Record<string, unknown>;

// The rules set on a PGV rules message (e.g. StringRules), as a plain object
// of the fields actually present.
function presentRules(rules: Message, registry: Registry): Rules {
  const desc = registry.getMessage(rules.$typeName)!;
  const view = reflect(desc, rules);
  const present: Rules = {};
  for (const field of desc.fields) if (view.isSet(field)) present[field.name] = (rules as unknown as Record<string, unknown>)[field.localName];
  return present;
}

const num = (value: unknown) => Number(value as number | bigint);

function checkNumber(value: number, rules: Rules, where: string): string[] {
  const problems: string[] = [];
  if ("const" in rules && value !== num(rules.const)) problems.push(`${where} must be ${rules.const}`);
  if ("gt" in rules && !(value > num(rules.gt))) problems.push(`${where} must be > ${rules.gt}`);
  if ("gte" in rules && !(value >= num(rules.gte))) problems.push(`${where} must be >= ${rules.gte}`);
  if ("lt" in rules && !(value < num(rules.lt))) problems.push(`${where} must be < ${rules.lt}`);
  if ("lte" in rules && !(value <= num(rules.lte))) problems.push(`${where} must be <= ${rules.lte}`);
  if (Array.isArray(rules.in) && rules.in.length > 0 && !rules.in.map(num).includes(value)) problems.push(`${where} must be one of ${rules.in.join(", ")}`);
  return problems;
}

const durationSeconds = (d: { seconds: bigint; nanos: number }) => Number(d.seconds) + d.nanos / 1e9;

function checkScalar(kind: string, value: unknown, rules: Rules, where: string, field: DescField): string[] {
  if (rules.ignore_empty === true && (value === "" || value === 0 || value === 0n)) return [];
  switch (kind) {
    case "string": {
      const text = value as string;
      const problems: string[] = [];
      const chars = [...text].length;
      if ("min_len" in rules && chars < num(rules.min_len)) problems.push(`${where} must have at least ${rules.min_len} characters`);
      if ("max_len" in rules && chars > num(rules.max_len)) problems.push(`${where} must have at most ${rules.max_len} characters`);
      const bytes = Buffer.byteLength(text);
      if ("min_bytes" in rules && bytes < num(rules.min_bytes)) problems.push(`${where} must have at least ${rules.min_bytes} bytes`);
      if ("max_bytes" in rules && bytes > num(rules.max_bytes)) problems.push(`${where} must have at most ${rules.max_bytes} bytes`);
      if ("prefix" in rules && !text.startsWith(rules.prefix as string)) problems.push(`${where} must start with ${rules.prefix}`);
      if (Array.isArray(rules.in) && rules.in.length > 0 && !rules.in.includes(text)) problems.push(`${where} must be one of ${rules.in.join(", ")}`);
      if (Array.isArray(rules.not_in) && rules.not_in.includes(text)) problems.push(`${where} must not be ${text}`);
      return problems;
    }
    case "enum": {
      const defined = field.enum?.values.some((v) => v.number === value) ?? true;
      return rules.defined_only === true && !defined ? [`${where} is not a defined ${field.enum!.typeName}`] : [];
    }
    case "duration": {
      const seconds = durationSeconds(value as { seconds: bigint; nanos: number });
      const asSeconds = (d: unknown) => durationSeconds(d as { seconds: bigint; nanos: number });
      const bounds: Rules = {};
      for (const key of ["gt", "gte", "lt", "lte"]) if (key in rules) bounds[key] = asSeconds(rules[key]);
      return checkNumber(seconds, bounds, where);
    }
    default:
      return ["float", "double", "int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64", "sfixed32", "sfixed64"].includes(kind)
        ? checkNumber(num(value), rules, where)
        : [];
  }
}

export class ValidateRules {
  private readonly fieldRules: DescExtension;
  private readonly oneofRequired: DescExtension;

  constructor(private readonly registry: Registry) {
    this.fieldRules = registry.getExtension("validate.rules")!;
    this.oneofRequired = registry.getExtension("validate.required")!;
  }

  // Every broken rule in the message and below it, with the path to it.
  check(message: Message, where = ""): string[] {
    const desc = this.registry.getMessage(message.$typeName);
    if (!desc) return [`${where}: ${message.$typeName} is not in the registry`];
    return this.checkReflected(reflect(desc, message), where);
  }

  private checkReflected(view: ReflectMessage, where: string): string[] {
    const desc = view.desc;
    const problems: string[] = [];
    if (desc.typeName === "google.protobuf.Any") {
      const inner = anyUnpack(view.message as Any, this.registry);
      if (!inner) return [`${where}: ${(view.message as Any).typeUrl} is not in the registry`];
      return this.check(inner, where);
    }
    for (const oneof of desc.oneofs) {
      if (hasOption(oneof, this.oneofRequired) && getOption(oneof, this.oneofRequired) === true && !oneof.fields.some((f) => view.isSet(f))) {
        problems.push(`${where}: one of ${oneof.fields.map((f) => f.name).join(", ")} is required`);
      }
    }
    for (const field of desc.fields) {
      problems.push(...this.checkField(view, field, `${where}.${field.name}`));
    }
    return problems;
  }

  // The field's typed rules (FieldRules.type), and for message fields its
  // MessageRules (required, skip) merged in.
  private rulesOf(field: DescField): { kind: string; rules: Rules } | undefined {
    if (!hasOption(field, this.fieldRules)) return undefined;
    const fieldRules = getOption(field, this.fieldRules) as unknown as { type: { case: string | undefined; value: Message }; message?: Message };
    const messageRules = fieldRules.message ? presentRules(fieldRules.message, this.registry) : {};
    if (!fieldRules.type.case) return { kind: "message", rules: messageRules };
    return { kind: fieldRules.type.case, rules: { ...messageRules, ...presentRules(fieldRules.type.value, this.registry) } };
  }

  private checkField(view: ReflectMessage, field: DescField, where: string): string[] {
    const declared = this.rulesOf(field);
    const set = view.isSet(field);
    const problems: string[] = [];
    if (field.fieldKind === "message") {
      // In a oneof, `required` means the chosen member must carry a value.
      const required = declared?.rules.required === true && !field.oneof;
      if (required && !set) problems.push(`${where} is required`);
      if (!set) return problems;
      const value = view.get(field);
      if (declared && declared.kind === "duration") problems.push(...checkScalar("duration", value.message, declared.rules, where, field));
      // Rules on a wrapper (UInt32Value...) apply to the value it wraps.
      if (declared && field.message.typeName.startsWith("google.protobuf.") && field.message.typeName.endsWith("Value")) {
        problems.push(...checkScalar(declared.kind, (value.message as unknown as { value: unknown }).value, declared.rules, where, field));
      }
      if (declared?.rules.skip !== true) problems.push(...this.checkReflected(value, where));
      return problems;
    }
    if (field.fieldKind === "list") {
      const list = view.get(field);
      if (declared?.kind === "repeated") {
        const { rules } = declared;
        if ("min_items" in rules && list.size < num(rules.min_items)) problems.push(`${where} needs at least ${rules.min_items} items`);
        if ("max_items" in rules && list.size > num(rules.max_items)) problems.push(`${where} takes at most ${rules.max_items} items`);
      }
      const items = declared?.kind === "repeated" ? this.itemRules(declared.rules.items) : undefined;
      let index = 0;
      for (const item of list) {
        const at = `${where}[${index++}]`;
        if (field.listKind === "message") problems.push(...this.checkReflected(item as ReflectMessage, at));
        else if (items) problems.push(...checkScalar(items.kind, item, items.rules, at, field));
      }
      return problems;
    }
    if (field.fieldKind === "map") {
      const map = view.get(field);
      if (declared?.kind === "map" && "min_pairs" in declared.rules && map.size < num(declared.rules.min_pairs)) {
        problems.push(`${where} needs at least ${declared.rules.min_pairs} entries`);
      }
      if (field.mapKind === "message") for (const [key, value] of map) problems.push(...this.checkReflected(value as ReflectMessage, `${where}[${String(key)}]`));
      return problems;
    }
    if (!declared) return problems;
    // A oneof member or optional field is checked only when set; a plain scalar always (zero included).
    if ((field.oneof || field.proto.proto3Optional) && !set) return problems;
    const kind = field.fieldKind === "enum" ? "enum" : declared.kind;
    return checkScalar(kind, view.get(field), declared.rules, where, field);
  }

  private itemRules(items: unknown): { kind: string; rules: Rules } | undefined {
    const fieldRules = items as { type?: { case: string | undefined; value: Message } } | undefined;
    if (!fieldRules?.type?.case) return undefined;
    return { kind: fieldRules.type.case, rules: presentRules(fieldRules.type.value, this.registry) };
  }
}
