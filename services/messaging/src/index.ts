export { messagingConnectors, type MessagingConnectorRegistration } from "./connectors/index";
export { MessagingEngine, type MessagingEngineOptions } from "./engine";
export { messageAttemptRollups, messageRollup, messagingMigrations } from "./migrations";
export { messagingCallbackRoutes, messagingRoutes } from "./routes";
export { messagingRoom } from "./room";
export { eraseMessageContact } from "./store";
