export * from "./api-keys";
export * from "./audit";
export * from "./routes";
export * from "./tenants";
export * from "./migrations";
export * from "./room";
export { billingPeriod, planById, plans, type PlanDefinition } from "./plans";
export { TenantMailer, type TenantEmail } from "./tenant-mail";
export { countedProviderAccounts, toPlan } from "./usage-service";
