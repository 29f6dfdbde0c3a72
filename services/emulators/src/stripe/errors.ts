import type { PaymentError, PaymentIntent } from "./objects";

// An error answer in Stripe's shape: { error: { type, code, message, ... } }.
export interface StripeErrorBody extends PaymentError {
  payment_intent?: PaymentIntent;
}

export class StripeApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: StripeErrorBody,
  ) {
    super(body.message);
  }
}

export function invalidRequest(message: string, details: { code?: string; param?: string } = {}): StripeApiError {
  return new StripeApiError(400, { type: "invalid_request_error", message, ...details });
}

// 404 for an object named in the URL, 400 for one named in a parameter.
export function resourceMissing(resource: string, id: string, param: string, status = 404): StripeApiError {
  return new StripeApiError(status, {
    type: "invalid_request_error",
    code: "resource_missing",
    message: `No such ${resource}: '${id}'`,
    param,
  });
}
