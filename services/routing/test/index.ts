export * from "./connector-kit";
export * from "./outbound";
export * from "./test-bed";
export * from "./provider-room";
