export * from "./api-keys";
export * from "./audit";
export * from "./routes";
export * from "./tenants";
export * from "./room";
