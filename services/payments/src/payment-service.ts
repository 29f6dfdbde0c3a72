import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  CancelPaymentResponseSchema,
  CapturePaymentResponseSchema,
  CreatePaymentResponseSchema,
  GetPaymentResponseSchema,
  GetRefundResponseSchema,
  ListPaymentsResponseSchema,
  ListRefundsResponseSchema,
  PaymentService,
  RefundPaymentResponseSchema,
  type Payment,
} from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { claimOf, environmentName, requireCaller, requireId, validMetadata, type Idempotency } from "@onerouter/core";
import type { PaymentEngine } from "./engine";
import type { Scope } from "./store";
import { validAmount, validCreatePayment, validPaymentFilter, validReason } from "./validation";

// PaymentService: checks each request, then hands it to the engine. Every
// mutating method runs under the caller's Idempotency-Key.
export function paymentService(engine: PaymentEngine, idempotency: Idempotency): ServiceImpl<typeof PaymentService> {
  const { withIdempotency } = idempotency;
  const { method } = PaymentService;
  return {
    async createPayment(req, ctx) {
      const scope = callerScope(ctx);
      const input = validCreatePayment(req);
      const respond = (payment: Payment) => create(CreatePaymentResponseSchema, { payment });
      return withIdempotency(ctx, method.createPayment, req, async (claim) => respond(await engine.createPayment(scope, input, claimOf(claim, respond))), {
        claimOnBind: true,
      });
    },

    async getPayment(req, ctx) {
      const scope = callerScope(ctx);
      return create(GetPaymentResponseSchema, { payment: await engine.getPayment(scope, requireId("id", req.id)) });
    },

    async listPayments(req, ctx) {
      const scope = callerScope(ctx);
      const filter = validPaymentFilter(req);
      return create(ListPaymentsResponseSchema, await engine.listPayments(scope, filter, req));
    },

    async capturePayment(req, ctx) {
      const scope = callerScope(ctx);
      const id = requireId("id", req.id);
      const amount = validAmount("amount", req.amount, true);
      return withIdempotency(ctx, method.capturePayment, req, async (claim) =>
        create(CapturePaymentResponseSchema, { payment: await engine.capturePayment(scope, id, amount, claim) }),
      );
    },

    async cancelPayment(req, ctx) {
      const scope = callerScope(ctx);
      const id = requireId("id", req.id);
      validReason(req.reason);
      return withIdempotency(ctx, method.cancelPayment, req, async (claim) =>
        create(CancelPaymentResponseSchema, { payment: await engine.cancelPayment(scope, id, claim) }),
      );
    },

    async refundPayment(req, ctx) {
      const scope = callerScope(ctx);
      const input = {
        amount: validAmount("amount", req.amount, true),
        reason: validReason(req.reason),
        metadata: validMetadata("metadata", req.metadata),
      };
      const paymentId = requireId("payment_id", req.paymentId);
      return withIdempotency(ctx, method.refundPayment, req, async (claim) =>
        create(RefundPaymentResponseSchema, await engine.refundPayment(scope, paymentId, input, claim)),
      );
    },

    async getRefund(req, ctx) {
      const scope = callerScope(ctx);
      return create(GetRefundResponseSchema, { refund: await engine.getRefund(scope, requireId("id", req.id)) });
    },

    async listRefunds(req, ctx) {
      const scope = callerScope(ctx);
      return create(ListRefundsResponseSchema, await engine.listRefunds(scope, req.paymentId, req));
    },
  };
}

function callerScope(ctx: HandlerContext): Scope {
  const caller = requireCaller(ctx);
  return { tenantId: caller.tenantId, environment: environmentName(caller.environment), ...(caller.apiKeyId && { apiKeyId: caller.apiKeyId }) };
}
