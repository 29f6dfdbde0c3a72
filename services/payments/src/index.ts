export { paymentConnectors, type PaymentConnectorRegistration } from "./connectors/index";
export { PaymentEngine, type PaymentEngineOptions } from "./engine";
export { inboundPaymentWebhookRoutes } from "./inbound-webhooks";
export { sandboxConnector } from "./connectors/sandbox/index";
export { paymentsMigrations } from "./migrations";
export { paymentRoutes } from "./routes";
export { ensureSandboxDefaults } from "./sandbox-defaults";
export { erasePaymentContact } from "./store";
