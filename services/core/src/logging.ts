import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(level: string, name = "onerouter"): Logger {
  return pino({
    name,
    level,
    base: { service: name },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ["req.headers.authorization", "*.secret", "*.credentials"], censor: "[redacted]" },
  });
}
