export * from "./circuit-breaker";
export * from "./fees";
export * from "./select";
