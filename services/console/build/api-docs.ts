import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Plugin } from "vite";
import { readApiReference, type ApiError, type ApiFile, type ApiMessage, type ApiMethod, type ApiService } from "./api-reference.ts";

// The API reference served at /docs and committed as docs/api.md: every
// service, method, message, field and enum from the protos' comments, each
// method with the errors it can answer and an example in curl and in the
// TypeScript client. Built with the console, from the same reading of the
// protos as the console's reference page.

// The TypeScript client's property for each service (createOneRouterClient).
const clientProperties: Record<string, string> = {
  PaymentService: "payments",
  MessagingService: "messaging",
  WebhookService: "webhooks",
  ApiKeyService: "apiKeys",
  ProviderAccountService: "providerAccounts",
  RoutingService: "routing",
  SessionService: "sessions",
  TeamService: "team",
  UsageService: "usage",
  AnalyticsService: "analytics",
  AuditLogService: "auditLogs",
};

// What any call can be refused with, before its own rules apply.
export const everyCall: ApiError[] = [
  { code: "UNAUTHENTICATED", reason: "API_KEY_MISSING, API_KEY_MALFORMED, API_KEY_UNKNOWN, API_KEY_REVOKED, API_KEY_EXPIRED, SESSION_UNKNOWN, SESSION_EXPIRED, SESSION_REVOKED", when: "no usable API key or session" },
  { code: "PERMISSION_DENIED", reason: "API_KEY_SCOPE_MISSING, ROLE_NOT_PERMITTED, TENANT_SUSPENDED", when: "the key's scopes or the member's role do not cover the method, or the tenant is suspended" },
  { code: "INVALID_ARGUMENT", reason: "INVALID_FIELD", when: "a field is malformed; ErrorInfo's metadata.field names it" },
  { code: "RESOURCE_EXHAUSTED", reason: "RATE_LIMITED, QUOTA_EXCEEDED", when: "the key's rate or the plan's monthly requests are used up; Retry-After says when to retry" },
];

// What any call that changes state can be refused with, for its Idempotency-Key.
export const everyChange: ApiError[] = [
  { code: "INVALID_ARGUMENT", reason: "IDEMPOTENCY_KEY_REUSED", when: "the Idempotency-Key was used before with a different request" },
  { code: "ABORTED", reason: "IDEMPOTENCY_KEY_IN_USE", when: "a request with the same Idempotency-Key is still running" },
];

// The method's own errors, from its proto comment, after those of every call.
export function methodErrors(method: ApiMethod): ApiError[] {
  return [...everyCall, ...(method.readOnly ? [] : everyChange), ...(method.errors ?? [])];
}

// A request body showing every top-level field with a value of its type.
function sampleFields(input: ApiMessage | undefined, messages: Map<string, ApiMessage>): Record<string, unknown> {
  const sample: Record<string, unknown> = {};
  for (const field of input?.fields ?? []) {
    const type = field.type.replace(/^(repeated|optional)\s+/, "");
    const jsonName = field.name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    let value: unknown;
    if (/^(string)$/.test(type)) value = field.name === "currency" ? "USD" : field.name.endsWith("id") ? "…_id" : "…";
    else if (/^(int64|uint64|sint64|fixed64)$/.test(type)) value = "1000";
    else if (/^(int32|uint32|sint32|fixed32|double|float)$/.test(type)) value = 10;
    else if (type === "bool") value = false;
    else if (type.startsWith("map<")) value = {};
    else if (type === "google.protobuf.Timestamp") value = "2026-01-01T00:00:00Z";
    else if (messages.get(type)?.kind === "enum") value = messages.get(type)!.fields[1]?.name ?? messages.get(type)!.fields[0]?.name;
    else value = {};
    sample[jsonName] = field.type.startsWith("repeated") ? [value] : value;
  }
  return sample;
}

interface Documented {
  file: ApiFile;
  service: ApiService;
  method: ApiMethod;
  input: ApiMessage | undefined;
  fullName: string;
}

function methodsOf(files: ApiFile[]): { methods: Documented[]; messages: Map<string, ApiMessage> } {
  const messages = new Map<string, ApiMessage>();
  for (const file of files) for (const message of file.messages) messages.set(message.name, message).set(`${file.package}.${message.name}`, message);
  const methods = files.flatMap((file) =>
    file.services.flatMap((service) =>
      service.methods.map((method) => ({ file, service, method, input: messages.get(method.input), fullName: `${file.package}.${service.name}` })),
    ),
  );
  return { methods, messages };
}

function examples(doc: Documented, messages: Map<string, ApiMessage>): { curl: string; typescript: string } {
  const body = JSON.stringify(sampleFields(doc.input, messages), null, 2);
  const idempotency = doc.method.readOnly ? "" : ` \\\n  -H "idempotency-key: $(uuidgen)"`;
  const curl = doc.method.serverStreaming
    ? `curl -sN http://localhost:8080/${doc.fullName}/${doc.method.name} \\\n  -H "authorization: Bearer $ONEROUTER_KEY" \\\n  -H "content-type: application/connect+json" \\\n  --data-binary @request.bin  # a Connect streaming envelope; the TypeScript client does this for you`
    : `curl -s http://localhost:8080/${doc.fullName}/${doc.method.name} \\\n  -H "authorization: Bearer $ONEROUTER_KEY" \\\n  -H "content-type: application/json"${idempotency} \\\n  -d '${body.replace(/'/g, "'\\''")}'`;
  const property = clientProperties[doc.service.name];
  const call = `${doc.method.name[0]!.toLowerCase()}${doc.method.name.slice(1)}`;
  const typescript = property
    ? doc.method.serverStreaming
      ? `for await (const message of onerouter.${property}.${call}(${body})) {\n  console.log(message);\n}`
      : `const answer = await onerouter.${property}.${call}(${body});`
    : `// ${doc.service.name} is not part of createOneRouterClient; use createClient(${doc.service.name}, transport).`;
  return { curl, typescript };
}

// Everything the reference must explain and does not: services, methods
// and fields without a comment, methods without an "Errors:" part.
export function undocumented(files: ApiFile[]): string[] {
  const missing: string[] = [];
  for (const file of files) {
    for (const service of file.services) {
      if (!service.comment) missing.push(`${file.package}.${service.name}`);
      for (const method of service.methods) {
        if (!method.comment) missing.push(`${file.package}.${service.name}.${method.name}`);
        if (!method.errors) missing.push(`${file.package}.${service.name}.${method.name} Errors:`);
      }
    }
    for (const message of file.messages) {
      if (message.kind !== "message") continue;
      for (const field of message.fields) if (!field.comment) missing.push(`${file.package}.${message.name}.${field.name}`);
    }
  }
  return missing;
}

export function renderMarkdown(files: ApiFile[]): string {
  const { methods, messages } = methodsOf(files);
  const out: string[] = [
    "# OneRouter API reference",
    "",
    "Generated from the protos' comments (`proto/`) when the console is built; the same reference is served at `/docs`.",
    "Every method answers Connect (JSON or binary over HTTP/1.1 and HTTP/2), gRPC and gRPC-Web at `http://localhost:8080/<service>/<method>`.",
    "The TypeScript examples use `const onerouter = createOneRouterClient({ baseUrl, apiKey })` from `@onerouter/client`.",
    "",
  ];
  for (const file of files) {
    if (file.services.length === 0 && file.messages.length === 0) continue;
    out.push(`## ${file.package} (${file.file})`, "");
    for (const service of file.services) {
      out.push(`### ${file.package}.${service.name}`, "", service.comment, "");
      for (const doc of methods.filter((m) => m.service === service)) {
        const { method } = doc;
        const { curl, typescript } = examples(doc, messages);
        out.push(
          `#### ${service.name}.${method.name}`,
          "",
          method.comment,
          "",
          `Request \`${method.input}\`, ${method.serverStreaming ? "a stream of" : "answer"} \`${method.output}\`. ${method.readOnly ? "A read: safe to retry." : "Changes state: send an `Idempotency-Key` to retry safely."}`,
          "",
          "| Code | Reason | When |",
          "| --- | --- | --- |",
          ...methodErrors(method).map((e) => `| ${e.code} | ${e.reason} | ${e.when.replace(/\|/g, "\\|")} |`),
          "",
          "```sh",
          curl,
          "```",
          "",
          "```ts",
          typescript,
          "```",
          "",
        );
      }
    }
    for (const message of file.messages) {
      out.push(`### ${message.kind === "enum" ? "enum" : "message"} ${file.package}.${message.name}`, "");
      if (message.comment) out.push(message.comment, "");
      if (message.fields.length > 0) {
        out.push(message.kind === "enum" ? "| Value | Meaning |" : "| Field | Type | Meaning |", message.kind === "enum" ? "| --- | --- |" : "| --- | --- | --- |");
        for (const field of message.fields) {
          const comment = field.comment.replace(/\|/g, "\\|");
          out.push(message.kind === "enum" ? `| \`${field.name}\` | ${comment} |` : `| \`${field.name}\` | \`${field.type}\` | ${comment} |`);
        }
        out.push("");
      }
    }
  }
  return out.join("\n").replace(/\n{3,}/g, "\n\n");
}

const escape = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const anchor = (name: string) => name.replace(/[^\w.-]/g, "-");

export function renderHtml(files: ApiFile[]): string {
  const { methods, messages } = methodsOf(files);
  const nav: string[] = [];
  const body: string[] = [];
  for (const file of files) {
    for (const service of file.services) {
      const id = anchor(`${file.package}.${service.name}`);
      nav.push(`<li><a href="#${id}">${escape(service.name)}</a></li>`);
      body.push(`<section id="${id}"><h2>${escape(`${file.package}.${service.name}`)}</h2><p>${escape(service.comment)}</p>`);
      for (const doc of methods.filter((m) => m.service === service)) {
        const { method } = doc;
        const { curl, typescript } = examples(doc, messages);
        body.push(
          `<article id="${anchor(`${id}.${method.name}`)}"><h3>${escape(method.name)}</h3><p>${escape(method.comment)}</p>`,
          `<p>Request <a href="#${anchor(`${file.package}.${method.input}`)}"><code>${escape(method.input)}</code></a>, ${method.serverStreaming ? "a stream of" : "answer"} <a href="#${anchor(`${file.package}.${method.output}`)}"><code>${escape(method.output)}</code></a>. ${method.readOnly ? "A read: safe to retry." : "Changes state: send an <code>Idempotency-Key</code> to retry safely."}</p>`,
          `<table><thead><tr><th>Code</th><th>Reason</th><th>When</th></tr></thead><tbody>${methodErrors(method)
            .map((e) => `<tr><td>${e.code}</td><td>${escape(e.reason)}</td><td>${escape(e.when)}</td></tr>`)
            .join("")}</tbody></table>`,
          `<h4>curl</h4><pre><code>${escape(curl)}</code></pre><h4>TypeScript</h4><pre><code>${escape(typescript)}</code></pre></article>`,
        );
      }
      body.push("</section>");
    }
  }
  for (const file of files) {
    for (const message of file.messages) {
      body.push(`<section id="${anchor(`${file.package}.${message.name}`)}"><h3>${message.kind} ${escape(`${file.package}.${message.name}`)}</h3>`);
      if (message.comment) body.push(`<p>${escape(message.comment)}</p>`);
      if (message.fields.length > 0) {
        body.push(
          `<table><tbody>${message.fields
            .map((f) => `<tr><td><code>${escape(f.name)}</code></td>${message.kind === "enum" ? "" : `<td><code>${escape(f.type)}</code></td>`}<td>${escape(f.comment)}</td></tr>`)
            .join("")}</tbody></table>`,
        );
      }
      body.push("</section>");
    }
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>OneRouter API reference</title><link rel="stylesheet" href="/docs/docs.css"></head>
<body><nav aria-label="Services"><h1>OneRouter API</h1><ul>${nav.join("")}</ul></nav>
<main><p>Every method answers Connect, gRPC and gRPC-Web on one port. Examples use an API key in <code>$ONEROUTER_KEY</code> and, in TypeScript, <code>const onerouter = createOneRouterClient({ baseUrl, apiKey })</code>.</p>
${body.join("\n")}</main></body></html>
`;
}

const docsCss = `body{display:flex;margin:0;font:15px/1.5 system-ui,sans-serif;color:#1d2330}
nav{position:sticky;top:0;height:100vh;overflow:auto;min-width:14rem;padding:1rem;background:#f3f5f9;box-sizing:border-box}
nav ul{list-style:none;padding:0}main{padding:1rem 2rem;max-width:60rem}
pre{background:#f3f5f9;padding:.75rem;overflow:auto}table{border-collapse:collapse;margin:.5rem 0}
td,th{border:1px solid #d5dae3;padding:.25rem .5rem;text-align:left;vertical-align:top}a{color:#1747b8}
`;

// Writes docs/ (HTML and its stylesheet) into the console's build output.
export function apiDocsPlugin(outDir: string): Plugin {
  return {
    name: "onerouter-api-docs",
    apply: "build",
    closeBundle() {
      const files = readApiReference();
      const dir = path.join(outDir, "docs");
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, "index.html"), renderHtml(files));
      writeFileSync(path.join(dir, "docs.css"), docsCss);
    },
  };
}
