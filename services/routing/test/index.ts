export * from "./connector-kit";
export * from "./outbound";
