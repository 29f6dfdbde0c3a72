import { hashToken, newId, randomToken, type Knex } from "@onerouter/core";

// A console session: an opaque random token in a cookie, stored only as its
// SHA-256 hash, expiring, and revocable by signing out.
export const sessionCookieName = "onerouter_session";

export interface SessionRow {
  id: string;
  tenant_id: string;
  member_id: string;
  token_hash: string;
  created_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
}

export async function createSession(
  knex: Knex,
  input: { tenantId: string; memberId: string; ttlHours: number; ipAddress?: string; userAgent?: string },
): Promise<{ token: string; row: SessionRow }> {
  const token = randomToken(32);
  const [row] = (await knex("sessions")
    .insert({
      id: newId("ses"),
      tenant_id: input.tenantId,
      member_id: input.memberId,
      token_hash: hashToken(token),
      expires_at: new Date(Date.now() + input.ttlHours * 3600_000),
      ip_address: input.ipAddress ?? "",
      user_agent: (input.userAgent ?? "").slice(0, 500),
    })
    .returning("*")) as SessionRow[];
  return { token, row: row! };
}

// The Set-Cookie value for a session: out of reach of scripts, never sent on
// cross-site requests, and only over HTTPS when the console is served so.
export function sessionCookie(token: string, maxAgeSeconds: number, secure: boolean): string {
  const flags = ["HttpOnly", "SameSite=Strict", "Path=/", `Max-Age=${maxAgeSeconds}`];
  if (secure) flags.push("Secure");
  return [`${sessionCookieName}=${token}`, ...flags].join("; ");
}

// Tells the browser to drop the session cookie.
export function clearedSessionCookie(secure: boolean): string {
  return sessionCookie("", 0, secure);
}

// The session token in a Cookie header, if there is one.
export function sessionTokenFromCookies(cookieHeader: string | null): string | undefined {
  if (!cookieHeader) return undefined;
  for (const part of cookieHeader.split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === sessionCookieName) return value.join("=") || undefined;
  }
  return undefined;
}
