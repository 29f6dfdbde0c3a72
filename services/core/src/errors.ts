import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import {
  BadRequestSchema,
  BadRequest_FieldViolationSchema,
  ErrorInfoSchema,
  RetryInfoSchema,
} from "@onerouter/client/gen/google/rpc/error_details_pb";
import type { PlanCounts } from "./context";
import { isDatabaseUnavailable } from "./db/unavailable";

// Every error OneRouter returns is a ConnectError carrying a
// google.rpc.ErrorInfo: an UPPER_SNAKE reason callers can switch on, the
// domain, and the dynamic parts as metadata.

export const errorDomain = "onerouter.dev";

type OutgoingDetail = Extract<ConnectError["details"][number], { desc: unknown }>;

export function outgoing(details: ConnectError["details"]): OutgoingDetail[] {
  return details.filter((d): d is OutgoingDetail => "desc" in d);
}

export function apiError(
  code: Code,
  reason: string,
  message: string,
  metadata: Record<string, string> = {},
  extraDetails: OutgoingDetail[] = [],
): ConnectError {
  return new ConnectError(message, code, undefined, [
    { desc: ErrorInfoSchema, value: { reason, domain: errorDomain, metadata } },
    ...extraDetails,
  ]);
}

// A request field is wrong: INVALID_ARGUMENT naming the field, also as a
// google.rpc.BadRequest field violation for generic tooling.
export function invalidArgument(field: string, description: string, reason = "INVALID_FIELD"): ConnectError {
  return apiError(Code.InvalidArgument, reason, `${field}: ${description}`, { field }, [
    {
      desc: BadRequestSchema,
      value: create(BadRequestSchema, {
        fieldViolations: [create(BadRequest_FieldViolationSchema, { field, description })],
      }),
    },
  ]);
}

// Another tenant's or environment's object is indistinguishable from a
// missing one.
export function notFound(resource: string, id: string): ConnectError {
  return apiError(Code.NotFound, "RESOURCE_NOT_FOUND", `${resource} ${id} not found`, { resource, id });
}

export function failedPrecondition(reason: string, message: string, metadata: Record<string, string> = {}) {
  return apiError(Code.FailedPrecondition, reason, message, metadata);
}

// Creating one more of something the tenant's plan counts (members,
// provider accounts, webhook endpoints) when it already has `limit`.
// `metric` is the UsageMetric name. Unlimited (0) and the system's own calls
// (no plan) pass.
export function checkPlanCount(
  plan: PlanCounts | undefined,
  metric: "members" | "provider_accounts" | "webhook_endpoints",
  current: number,
): void {
  if (!plan) return;
  const limit = { members: plan.members, provider_accounts: plan.providerAccounts, webhook_endpoints: plan.webhookEndpoints }[metric];
  if (limit > 0 && current >= limit) {
    throw failedPrecondition("PLAN_LIMIT_REACHED", `the ${plan.id} plan allows ${limit} ${metric.replace("_", " ")}; upgrade the plan for more`, {
      metric,
      limit: String(limit),
      plan_id: plan.id,
    });
  }
}

export function rateLimited(retryAfterMs: number, metadata: Record<string, string> = {}): ConnectError {
  return apiError(
    Code.ResourceExhausted,
    "RATE_LIMITED",
    `rate limit reached; retry in ${Math.ceil(retryAfterMs)} ms`,
    { ...metadata, retry_after_ms: String(Math.ceil(retryAfterMs)) },
    [{ desc: RetryInfoSchema, value: { retryDelay: durationFromMs(Math.ceil(retryAfterMs)) } }],
  );
}

export function unimplemented(method: string): ConnectError {
  return apiError(Code.Unimplemented, "NOT_IMPLEMENTED", `${method} is not implemented yet`, { method });
}

const reasonByCode: Partial<Record<Code, string>> = {
  [Code.InvalidArgument]: "INVALID_REQUEST",
  [Code.ResourceExhausted]: "REQUEST_TOO_LARGE",
  [Code.Unimplemented]: "NOT_IMPLEMENTED",
  [Code.DeadlineExceeded]: "DEADLINE_EXCEEDED",
  [Code.Canceled]: "CANCELED",
  [Code.Unauthenticated]: "UNAUTHENTICATED",
  [Code.NotFound]: "RESOURCE_NOT_FOUND",
};

export function hasErrorInfo(err: ConnectError): boolean {
  return err.findDetails(ErrorInfoSchema).length > 0;
}

// Gives an error that lacks ErrorInfo one (errors raised by the framework or a
// library), turns a database that cannot be reached into UNAVAILABLE (worth a
// retry), and anything else that is not a ConnectError into INTERNAL, without
// leaking its message or stack.
export function normalizeError(err: unknown): { error: ConnectError; internal: boolean } {
  const answered = err instanceof ConnectError && hasErrorInfo(err);
  if (!answered && isDatabaseUnavailable(err)) {
    return {
      error: apiError(Code.Unavailable, "DATABASE_UNAVAILABLE", "the database is unavailable; retry with the same Idempotency-Key"),
      internal: true,
    };
  }
  if (err instanceof ConnectError) {
    if (hasErrorInfo(err)) return { error: err, internal: false };
    const reason = reasonByCode[err.code] ?? "INTERNAL";
    return {
      error: new ConnectError(err.rawMessage, err.code, err.metadata, [
        { desc: ErrorInfoSchema, value: { reason, domain: errorDomain, metadata: {} } },
        ...outgoing(err.details),
      ]),
      internal: err.code === Code.Internal || err.code === Code.Unknown,
    };
  }
  return { error: apiError(Code.Internal, "INTERNAL", "internal error"), internal: true };
}

// Keeps every error answered with an ErrorInfo, and logs what the caller is
// not shown.
export function createErrorInterceptor(logger: { error(obj: object, msg: string): void }): Interceptor {
  return (next) => async (req) => {
    try {
      return await next(req);
    } catch (err) {
      const { error, internal } = normalizeError(err);
      if (internal) logger.error({ err, method: `${req.service.typeName}/${req.method.name}` }, "internal error");
      throw error;
    }
  };
}
