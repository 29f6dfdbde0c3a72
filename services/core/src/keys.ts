import { createHash, timingSafeEqual } from "node:crypto";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { randomToken } from "./ids";

// API keys are or_test_<secret> / or_live_<secret>. Only a SHA-256 hash and a
// short visible prefix are stored; the environment is part of the key.

const keyPattern = /^or_(test|live)_([A-Za-z0-9_-]{32,64})$/;

export function generateApiKey(environment: Environment): { secret: string; prefix: string; hash: string } {
  const env = environment === Environment.LIVE ? "live" : "test";
  const secret = `or_${env}_${randomToken(32)}`;
  return { secret, prefix: secret.slice(0, 12), hash: hashApiKey(secret) };
}

export function hashApiKey(secret: string): string {
  return hashToken(secret);
}

// How every bearer secret is stored (API keys, session and invitation
// tokens): they are long and random, so a plain SHA-256 is enough.
export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export function parseApiKey(secret: string): { environment: Environment } | undefined {
  const match = keyPattern.exec(secret);
  if (!match) return undefined;
  return { environment: match[1] === "live" ? Environment.LIVE : Environment.TEST };
}

export function hashesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, "hex");
  const right = Buffer.from(b, "hex");
  return left.length === right.length && timingSafeEqual(left, right);
}

export function environmentName(environment: Environment): "test" | "live" {
  return environment === Environment.LIVE ? "live" : "test";
}

export function environmentFromName(name: string): Environment {
  return name === "live" ? Environment.LIVE : Environment.TEST;
}
