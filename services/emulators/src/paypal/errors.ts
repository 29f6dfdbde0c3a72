import { randomBytes } from "node:crypto";
import type { EmulatorReply } from "@onerouter/sandbox";
import { link } from "./resources";

// PayPal's error answers: { name, message, debug_id, details, links } with
// the HTTP status each name stands for.

const errorNames = {
  INVALID_REQUEST: { status: 400, message: "Request is not well-formed, syntactically incorrect, or violates schema." },
  AUTHENTICATION_FAILURE: {
    status: 401,
    message: "Authentication failed due to invalid authentication credentials or a missing Authorization header.",
  },
  RESOURCE_NOT_FOUND: { status: 404, message: "The specified resource does not exist." },
  UNPROCESSABLE_ENTITY: {
    status: 422,
    message: "The requested action could not be performed, semantically incorrect, or failed business validation.",
  },
  RATE_LIMIT_REACHED: { status: 429, message: "Too many requests. Blocked due to rate limiting." },
  INTERNAL_SERVER_ERROR: { status: 500, message: "An internal server error occurred." },
} as const;

type ErrorName = keyof typeof errorNames;

interface ErrorDetail {
  issue: string;
  description: string;
  field?: string;
  location?: "body" | "query" | "header" | "path";
}

export function paypalError(name: ErrorName, detail?: ErrorDetail): EmulatorReply {
  const debugId = randomBytes(7).toString("hex").slice(0, 13);
  const { status, message } = errorNames[name];
  const anchor = (detail?.issue ?? name).toLowerCase();
  return {
    status,
    headers: { "paypal-debug-id": debugId },
    body: {
      name,
      message,
      debug_id: debugId,
      details: detail ? [detail] : undefined,
      links: [link(`https://developer.paypal.com/api/rest/reference/orders/v2/errors/#${anchor}`, "information_link")],
    },
  };
}

// Thrown by handlers to answer with a PayPal error.
export class PaypalFailure extends Error {
  constructor(readonly reply: EmulatorReply) {
    super(`PayPal error ${reply.status}`);
  }
}

export function fail(name: ErrorName, detail?: ErrorDetail): never {
  throw new PaypalFailure(paypalError(name, detail));
}

export function notFound(field: string): never {
  fail("RESOURCE_NOT_FOUND", {
    issue: "INVALID_RESOURCE_ID",
    description: "Specified resource ID does not exist. Please check the resource ID and try again.",
    field,
    location: "path",
  });
}

export function unprocessable(issue: string, description: string): never {
  fail("UNPROCESSABLE_ENTITY", { issue, description });
}
