// What run.ts and its caller process say to each other.

export const secretKey = "sk_test_provider_connections_bench";

// kept-alive: the transport's pooled connections, as production calls go;
// fresh: a new connection (TCP and TLS handshake) for every request.
export type Mode = "kept-alive" | "fresh";

export type CallerRequest = { type: "slice"; mode: Mode; calls: number; baseUrl: string };

// Per call latencies, and the caller's CPU over the slice.
export type CallerReply = { latenciesMs: number[]; cpuMs: number };
