export { paymentConnectors, type PaymentConnectorRegistration } from "./connectors/index";
export { PaymentEngine, type PaymentEngineOptions } from "./engine";
export { inboundPaymentWebhookRoutes } from "./inbound-webhooks";
export { sandboxConnector } from "./connectors/sandbox/index";
export { paymentAttemptRollups, paymentRollup, paymentsMigrations } from "./migrations";
export { paymentRoutes } from "./routes";
export { paymentsRoom } from "./room";
export { erasePaymentContact } from "./store";
