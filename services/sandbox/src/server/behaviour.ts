import type { IncomingHttpHeaders } from "node:http";
import type { EmulatorReply } from "../emulator-harness";
import { SandboxError, errorReply, header } from "./wire";

// Misbehaviour a caller asks for per request through headers, so one server
// can serve many accounts that each simulate something different.

const maxAddedLatencyMs = 60_000;

const behaviourHeaders = {
  // Sleep this many milliseconds before processing.
  addedLatencyMs: "sandbox-added-latency-ms",
  // Process a mutating request, then never answer it.
  simulateTimeout: "sandbox-simulate-timeout",
  // Answer this fraction (0..1) of requests with the not-processed 503.
  failureRate: "sandbox-failure-rate",
} as const;

export interface Behaviour {
  addedLatencyMs: number;
  simulateTimeout: boolean;
  failureRate: number;
}

export function readBehaviour(headers: IncomingHttpHeaders): Behaviour {
  const latency = header(headers, behaviourHeaders.addedLatencyMs);
  const rate = header(headers, behaviourHeaders.failureRate);
  const addedLatencyMs = latency === undefined ? 0 : Number(latency);
  if (latency !== undefined && (!/^\d+$/.test(latency) || addedLatencyMs > maxAddedLatencyMs)) {
    throw new SandboxError(400, "invalid_sandbox_header", `${behaviourHeaders.addedLatencyMs} must be an integer from 0 to ${maxAddedLatencyMs}`);
  }
  const failureRate = rate === undefined ? 0 : Number(rate);
  if (rate !== undefined && (!/^\d+(\.\d+)?$/.test(rate) || failureRate > 1)) {
    throw new SandboxError(400, "invalid_sandbox_header", `${behaviourHeaders.failureRate} must be a number from 0 to 1`);
  }
  return {
    addedLatencyMs,
    failureRate,
    simulateTimeout: header(headers, behaviourHeaders.simulateTimeout) === "true",
  };
}

// The sandbox documents its 503 as "not processed": nothing was changed.
export function serviceUnavailable(): EmulatorReply {
  return errorReply(503, "api_error", "service_unavailable", "The sandbox is unavailable; the request was not processed.");
}

export function rateLimited(): EmulatorReply {
  return {
    ...errorReply(429, "rate_limit_error", "rate_limited", "Too many requests; the request was not processed."),
    headers: { "retry-after": "1" },
  };
}
