import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";
import { invalidArgument } from "@onerouter/core/errors";

// Members' console passwords, stored as scrypt hashes:
// scrypt$<N>$<r>$<p>$<salt>$<hash>, base64url. The parameters travel with
// the hash so they can be raised later without invalidating old ones.
const cost = { N: 16_384, r: 8, p: 1 };
const keyLength = 32;

export const minPasswordLength = 12;
const maxPasswordLength = 1024;

// Refuses a password too short to resist guessing, or long enough to make
// hashing a denial of service.
export function checkNewPassword(field: string, password: string): void {
  if (password.length < minPasswordLength) throw invalidArgument(field, `must be at least ${minPasswordLength} characters`);
  if (password.length > maxPasswordLength) throw invalidArgument(field, `must be at most ${maxPasswordLength} characters`);
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await derive(password, salt, cost);
  return ["scrypt", cost.N, cost.r, cost.p, salt.toString("base64url"), hash.toString("base64url")].join("$");
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split("$");
  if (scheme !== "scrypt" || !salt || !hash) return false;
  const expected = Buffer.from(hash, "base64url");
  const actual = await derive(password.slice(0, maxPasswordLength), Buffer.from(salt, "base64url"), {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

// A hash to compare against when the email is unknown, so an unknown email
// takes as long to refuse as a wrong password.
let decoy: Promise<string> | undefined;
export function decoyPasswordHash(): Promise<string> {
  decoy ??= hashPassword(randomBytes(16).toString("base64url"));
  return decoy;
}

function derive(password: string, salt: Buffer, options: ScryptOptions & { N: number }): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password.normalize("NFKC"), salt, keyLength, { ...options, maxmem: 64 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}
