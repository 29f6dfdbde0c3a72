export * from "./client";
export * from "./defaults";
export * from "./server/index";
export * from "./server/harness";
export { sandboxProvider } from "./server/provider";
