import type { ConnectRouter } from "@connectrpc/connect";
import { PaymentService } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import type { Idempotency } from "@onerouter/core";
import type { PaymentEngine } from "./engine";
import { paymentService } from "./payment-service";

export function paymentRoutes(engine: PaymentEngine, idempotency: Idempotency) {
  return (router: ConnectRouter) => {
    router.service(PaymentService, paymentService(engine, idempotency));
  };
}
