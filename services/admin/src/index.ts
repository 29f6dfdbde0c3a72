export * from "./api-keys";
export * from "./audit";
export * from "./routes";
export * from "./tenants";
export * from "./migrations";
export * from "./room";
export { planById, plans, type PlanDefinition } from "./plans";
export { TenantMailer, type TenantEmail } from "./tenant-mail";
export { csvDownloadPrefix, csvDownloadRoute } from "./analytics/csv-download";
