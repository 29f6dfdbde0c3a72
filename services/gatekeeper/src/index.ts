export * from "./authenticator";
export * from "./interceptor";
export * from "./rate-limiter";
export * from "./room";
export * from "./migrations";
export * from "./session-authenticator";
