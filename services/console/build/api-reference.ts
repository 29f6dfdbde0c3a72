import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import type { Plugin } from "vite";

// The console's API reference comes from the protos themselves: their
// services, methods, messages, enums and the comments above each, read at
// build time into a module the reference page imports. Nothing is written
// by hand, so the reference cannot drift from the contracts.

export interface ApiField {
  name: string;
  type: string;
  comment: string;
}

// An error a method answers with: its gRPC code, the ErrorInfo reason (or a
// family of reasons, e.g. PROVIDER_*) and when.
export interface ApiError {
  code: string;
  reason: string;
  when: string;
}

export interface ApiMethod {
  name: string;
  input: string;
  output: string;
  comment: string;
  // The method's own errors, from the "Errors:" part of its comment (beyond
  // what refuses any call); undefined when the comment has none.
  errors: ApiError[] | undefined;
  // idempotency_level = NO_SIDE_EFFECTS: a read, safe to retry.
  readOnly: boolean;
  serverStreaming: boolean;
}

export interface ApiService {
  name: string;
  comment: string;
  methods: ApiMethod[];
}

export interface ApiMessage {
  name: string;
  kind: "message" | "enum";
  comment: string;
  fields: ApiField[];
}

export interface ApiFile {
  file: string;
  package: string;
  services: ApiService[];
  messages: ApiMessage[];
}

const protoRoot = path.resolve(import.meta.dirname, "../../../proto/onerouter");

function protoFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) return protoFiles(full);
      return name.endsWith(".proto") ? [full] : [];
    });
}

// A line-based reader is enough: the protos follow buf's STANDARD style, one
// declaration per line, comments as `//` lines directly above.
export function parseProto(file: string, text: string): ApiFile {
  const parsed: ApiFile = { file, package: "", services: [], messages: [] };
  let comment: string[] = [];
  // Declarations open blocks; fields and methods belong to the innermost.
  const open: Array<ApiService | ApiMessage | undefined> = [];
  // The method whose option block is open.
  let lastMethod: ApiMethod | undefined;
  const takeComment = () => {
    const text = comment.join(" ").trim();
    comment = [];
    return text;
  };
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const inner = open.at(-1);
    let match: RegExpExecArray | null;
    if (line.startsWith("//")) {
      comment.push(line.replace(/^\/\/\s?/, ""));
    } else if ((match = /^package\s+([\w.]+);/.exec(line))) {
      parsed.package = match[1]!;
      comment = [];
    } else if ((match = /^service\s+(\w+)\s*\{/.exec(line))) {
      const service: ApiService = { name: match[1]!, comment: takeComment(), methods: [] };
      parsed.services.push(service);
      open.push(service);
    } else if ((match = /^(message|enum)\s+(\w+)\s*\{/.exec(line))) {
      const message: ApiMessage = { name: match[2]!, kind: match[1] as "message" | "enum", comment: takeComment(), fields: [] };
      // Nested declarations are listed under their qualified name.
      if (inner && "kind" in inner) message.name = `${inner.name}.${message.name}`;
      parsed.messages.push(message);
      // `message Empty {}` opens and closes on its line.
      if (!line.endsWith("}")) open.push(message);
    } else if ((match = /^rpc\s+(\w+)\s*\(\s*(?:stream\s+)?([\w.]+)\s*\)\s*returns\s*\(\s*(stream\s+)?([\w.]+)\s*\)/.exec(line))) {
      const { description, errors } = methodComment(comment);
      comment = [];
      const method: ApiMethod = { name: match[1]!, input: match[2]!, output: match[4]!, comment: description, errors, readOnly: false, serverStreaming: match[3] !== undefined };
      if (inner && "methods" in inner) inner.methods.push(method);
      if (!line.endsWith(";") && !line.endsWith("{}")) {
        open.push(undefined);
        lastMethod = method;
      }
    } else if (/^option\s+idempotency_level\s*=\s*NO_SIDE_EFFECTS;/.test(line)) {
      if (lastMethod) lastMethod.readOnly = true;
    } else if ((match = /^oneof\s+(\w+)\s*\{/.exec(line))) {
      // A oneof's fields are the enclosing message's fields.
      comment = [];
      open.push(inner);
    } else if ((match = /^((?:repeated\s+|optional\s+)?(?:map<[\w.,\s]+>|[\w.]+))\s+(\w+)\s*=\s*-?\d+/.exec(line))) {
      if (inner && "fields" in inner) inner.fields.push({ type: match[1]!, name: match[2]!, comment: takeComment() });
      else comment = [];
    } else if ((match = /^(\w+)\s*=\s*-?\d+/.exec(line))) {
      if (inner && "fields" in inner && inner.kind === "enum") inner.fields.push({ type: "", name: match[1]!, comment: takeComment() });
      else comment = [];
    } else if (line.startsWith("}")) {
      open.pop();
      lastMethod = undefined;
      comment = [];
    } else if (line.endsWith("{")) {
      // An option block or the like: closed by its own brace.
      open.push(inner);
      comment = [];
    } else if (line === "") {
      comment = [];
    }
  }
  return parsed;
}

// A method's comment: what it does, then optionally its errors, one per
// "- CODE REASON: when" item (continued on indented lines), or "Errors: none
// of its own." when only what refuses any call applies.
function methodComment(lines: string[]): { description: string; errors: ApiError[] | undefined } {
  const start = lines.findIndex((line) => line.startsWith("Errors:"));
  const description = (start === -1 ? lines : lines.slice(0, start)).join(" ").trim();
  if (start === -1) return { description, errors: undefined };
  const items: string[] = [];
  for (const line of [lines[start]!.slice("Errors:".length), ...lines.slice(start + 1)]) {
    if (line.startsWith("- ")) items.push(line.slice(2));
    else if (items.length > 0 && line.trim() !== "") items[items.length - 1] += ` ${line.trim()}`;
  }
  const errors = items.map((item) => {
    const parsed = /^([A-Z_]+) ([A-Z][A-Z0-9_]*\*?): (.+)$/.exec(item.trim());
    if (!parsed) throw new Error(`an error of a method must read "- CODE REASON: when", not "- ${item}"`);
    return { code: parsed[1]!, reason: parsed[2]!, when: parsed[3]! };
  });
  return { description, errors };
}

export function readApiReference(root = protoRoot): ApiFile[] {
  return protoFiles(root).map((file) => parseProto(path.relative(path.dirname(root), file), readFileSync(file, "utf8")));
}

const virtualId = "virtual:api-reference";
const resolvedId = `\0${virtualId}`;

export function apiReferencePlugin(): Plugin {
  return {
    name: "onerouter-api-reference",
    resolveId: (id) => (id === virtualId ? resolvedId : undefined),
    load(id) {
      if (id !== resolvedId) return undefined;
      for (const file of protoFiles(protoRoot)) this.addWatchFile(file);
      return `export default ${JSON.stringify(readApiReference())};`;
    },
  };
}
