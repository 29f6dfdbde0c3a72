// What run.ts and its load generator (load.ts) say to each other over IPC.

export const workloadNames = ["CreatePayment", "No-op (ListApiKeys)", "Sandbox connector direct"] as const;
export type WorkloadName = (typeof workloadNames)[number];

export type LoadRequest =
  | { type: "configure"; baseUrl: string; apiKey: string; credentials: Record<string, string>; maxConcurrency: number }
  // Closed loop with `concurrency` workers, or open loop at `rate` calls per second.
  | { type: "slice"; workload: WorkloadName; concurrency: number; rate?: number; durationMs: number; maxRequests: number }
  | { type: "probe"; workload: WorkloadName }
  | { type: "stop" };

export interface SliceResult {
  latenciesMs: number[];
  // When each of those calls started (or was due, in an open loop), in
  // milliseconds since the epoch, sub-millisecond: the clock every process
  // on the machine shares, to find what the server did during a call.
  startedAtMs: number[];
  errors: number;
  firstError?: string;
  elapsedMs: number;
  // The load generator's CPU and the sandbox's over the slice.
  clientCpuMs: number;
}

export type LoadReply =
  | { type: "ready"; sandboxUrl: string }
  | { type: "configured" }
  | { type: "slice"; result: SliceResult }
  | { type: "probe"; ms: number }
  | { type: "failed"; message: string };

// What load.ts and the sandbox's process (sandbox.ts) say to each other over IPC.
export type SandboxRequest = { type: "cpu" } | { type: "stop" };

export type SandboxReply = { type: "ready"; url: string } | { type: "cpu"; ms: number };
