// Validation of a v3 Mail Send body, with SendGrid's error messages and
// field paths. SendGrid checks the whole body and answers every problem it
// found in one `errors` array.

export interface SendGridFieldError {
  message: string;
  field: string | null;
  help: string | null;
}

export interface SendGridAddress {
  email: string;
  name?: string;
}

export interface SendGridPersonalization {
  to: SendGridAddress[];
  cc: SendGridAddress[];
  bcc: SendGridAddress[];
  subject?: string;
  custom_args: Record<string, string>;
}

export interface SendGridMailRequest {
  personalizations: SendGridPersonalization[];
  from: SendGridAddress;
  reply_to?: SendGridAddress;
  subject?: string;
  content: { type: string; value: string }[];
  custom_args: Record<string, string>;
}

const helpBase = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html";

// What SendGrid accepts as an address: a local part and a dotted domain,
// without spaces or the characters that delimit addresses in headers.
const addressPattern = /^[^\s@<>(),;:"[\]\\]+@[^\s@<>(),;:"[\]\\]+\.[^\s@<>(),;:"[\]\\]+$/;

export function isValidAddress(email: string): boolean {
  return addressPattern.test(email);
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// Type names as SendGrid's schema errors print them.
function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

class Problems {
  readonly list: SendGridFieldError[] = [];
  add(message: string, field: string | null, helpAnchor: string | null = null) {
    this.list.push({ message, field, help: helpAnchor ? `${helpBase}#${helpAnchor}` : null });
  }
}

function readAddress(value: unknown, field: string, problems: Problems, helpAnchor: string): SendGridAddress | undefined {
  if (!isObject(value) || typeof value.email !== "string" || !isValidAddress(value.email)) {
    problems.add("Does not contain a valid address.", `${field}.email`, helpAnchor);
    return undefined;
  }
  return { email: value.email, ...(typeof value.name === "string" && { name: value.name }) };
}

function readAddressList(value: unknown, field: string, problems: Problems, helpAnchor: string): SendGridAddress[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    problems.add(`Invalid type. Expected: array, given: ${jsonType(value)}.`, field, helpAnchor);
    return [];
  }
  return value.flatMap((entry, index) => readAddress(entry, `${field}.${index}`, problems, helpAnchor) ?? []);
}

function readCustomArgs(value: unknown, field: string, problems: Problems): Record<string, string> {
  if (value === undefined) return {};
  if (!isObject(value)) {
    problems.add(`Invalid type. Expected: object, given: ${jsonType(value)}.`, field, "message.custom_args");
    return {};
  }
  const args: Record<string, string> = {};
  for (const [name, arg] of Object.entries(value)) {
    if (typeof arg === "string") args[name] = arg;
    else problems.add(`Invalid type. Expected: string, given: ${jsonType(arg)}.`, `${field}.${name}`, "message.custom_args");
  }
  return args;
}

function readPersonalization(value: unknown, index: number, problems: Problems): SendGridPersonalization {
  const field = `personalizations.${index}`;
  const data = isObject(value) ? value : {};
  if (!Array.isArray(data.to) || data.to.length === 0) {
    problems.add(
      "The to array is required for all personalization objects, and must have at least one email object with a valid email address.",
      `${field}.to`,
      "message.personalizations.to",
    );
  }
  const personalization: SendGridPersonalization = {
    to: readAddressList(data.to, `${field}.to`, problems, "message.personalizations.to"),
    cc: readAddressList(data.cc, `${field}.cc`, problems, "message.personalizations.cc"),
    bcc: readAddressList(data.bcc, `${field}.bcc`, problems, "message.personalizations.bcc"),
    custom_args: readCustomArgs(data.custom_args, `${field}.custom_args`, problems),
    ...(typeof data.subject === "string" && data.subject !== "" && { subject: data.subject }),
  };
  // An address may appear once per personalization, whichever list holds it.
  const seen = new Set<string>();
  for (const list of ["to", "cc", "bcc"] as const) {
    for (const address of personalization[list]) {
      const key = address.email.toLowerCase();
      if (seen.has(key)) {
        problems.add(
          `Each email address in the personalization block should be unique between to, cc, and bcc. We found the first duplicate instance of [${address.email}] in the ${field}.${list} field.`,
          `${field}.${list}`,
          "message.recipient_errors",
        );
        return personalization;
      }
      seen.add(key);
    }
  }
  return personalization;
}

function readContent(value: unknown, problems: Problems): { type: string; value: string }[] {
  if (!Array.isArray(value) || value.length === 0) {
    problems.add(
      "Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block. We typically suggest both text/plain and text/html blocks are included, but only one block is required.",
      "content",
      "message.content",
    );
    return [];
  }
  const content = value.map((block, index) => {
    const data = isObject(block) ? block : {};
    if (typeof data.value !== "string" || data.value === "") {
      problems.add("The content value must be a string at least one character in length.", `content.${index}.value`, "message.content.value");
    }
    if (typeof data.type !== "string" || data.type === "") {
      problems.add("The content type must be a string at least one character in length.", `content.${index}.type`, "message.content.type");
    }
    return { type: String(data.type ?? ""), value: String(data.value ?? "") };
  });
  // text/plain, then text/html, then anything else.
  const rank = (type: string) => (type === "text/plain" ? 0 : type === "text/html" ? 1 : 2);
  if (content.some((block, index) => index > 0 && rank(block.type) < rank((content[index - 1] as { type: string }).type))) {
    problems.add(
      "If present, text/plain content must be first, followed by text/html, followed by any other content.",
      "content",
      "message.content",
    );
  }
  return content;
}

// Reads a Mail Send body; answers the parsed request, or SendGrid's errors.
export function readMailRequest(body: unknown): { request: SendGridMailRequest } | { errors: SendGridFieldError[] } {
  const problems = new Problems();
  const data = isObject(body) ? body : {};
  let personalizations: SendGridPersonalization[] = [];
  if (!Array.isArray(data.personalizations) || data.personalizations.length === 0) {
    problems.add(
      "The personalizations field is required and must have at least one personalization.",
      "personalizations",
      "message.personalizations",
    );
  } else {
    personalizations = data.personalizations.map((entry, index) => readPersonalization(entry, index, problems));
  }
  let from: SendGridAddress | undefined;
  if (!isObject(data.from)) {
    problems.add(
      "The from object must be provided for every email send. It is an object that requires the email parameter, but may also contain a name parameter.",
      "from",
      "message.from",
    );
  } else {
    from = readAddress(data.from, "from", problems, "message.from");
  }
  const replyTo = data.reply_to === undefined ? undefined : readAddress(data.reply_to, "reply_to", problems, "message.reply_to");
  const subject = typeof data.subject === "string" && data.subject !== "" ? data.subject : undefined;
  if (subject === undefined && !personalizations.every((p) => p.subject !== undefined)) {
    problems.add(
      "The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined.",
      "subject",
      "message.subject",
    );
  }
  const content = readContent(data.content, problems);
  const customArgs = readCustomArgs(data.custom_args, "custom_args", problems);
  if (problems.list.length > 0 || !from) return { errors: problems.list };
  return {
    request: {
      personalizations,
      from,
      ...(replyTo && { reply_to: replyTo }),
      ...(subject !== undefined && { subject }),
      content,
      custom_args: customArgs,
    },
  };
}
