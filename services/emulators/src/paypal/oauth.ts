import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { EmulatorReply, EmulatorRequest } from "@onerouter/sandbox";
import { PaypalFailure, fail } from "./errors";
import { header } from "./request";
import { timestamp } from "./resources";

// OAuth2 client credentials: POST /v1/oauth2/token issues the bearer tokens
// every other API call presents.

const accessTokenLifetimeSeconds = 32_400;

export class AccessTokens {
  private readonly expiries = new Map<string, number>();
  private issuedCount = 0;

  constructor(
    private readonly clientId: string,
    private readonly clientSecret: string,
  ) {}

  get issued(): number {
    return this.issuedCount;
  }

  // Makes PayPal refuse every access token issued so far.
  revoke(): void {
    this.expiries.clear();
  }

  issue(req: EmulatorRequest): EmulatorReply {
    const [scheme, encoded] = (header(req, "authorization") ?? "").split(" ");
    const decoded = scheme?.toLowerCase() === "basic" && encoded ? Buffer.from(encoded, "base64").toString("utf8") : "";
    const separator = decoded.indexOf(":");
    if (
      separator < 0 ||
      !sameSecret(decoded.slice(0, separator), this.clientId) ||
      !sameSecret(decoded.slice(separator + 1), this.clientSecret)
    ) {
      return { status: 401, body: { error: "invalid_client", error_description: "Client Authentication failed" } };
    }
    const grantType = new URLSearchParams(req.rawBody.toString("utf8")).get("grant_type");
    if (grantType !== "client_credentials") {
      return {
        status: 400,
        body: { error: "unsupported_grant_type", error_description: grantType ? "unsupported grant_type" : "Grant Type is NULL" },
      };
    }
    const token = `A21AA${randomBytes(48).toString("base64url")}`;
    this.expiries.set(token, Date.now() + accessTokenLifetimeSeconds * 1000);
    this.issuedCount += 1;
    return {
      status: 200,
      body: {
        scope:
          "https://uri.paypal.com/services/payments/payment/authcapture https://uri.paypal.com/services/payments/refund " +
          "https://uri.paypal.com/services/reporting/search/read https://uri.paypal.com/services/applications/webhooks",
        access_token: token,
        token_type: "Bearer",
        app_id: "APP-80W284485P519543T",
        expires_in: accessTokenLifetimeSeconds,
        nonce: `${timestamp()}${randomBytes(16).toString("base64url")}`,
      },
    };
  }

  authenticate(req: EmulatorRequest): void {
    const authorization = header(req, "authorization");
    const token = authorization?.startsWith("Bearer ") ? authorization.slice("Bearer ".length) : undefined;
    const expiresAt = token === undefined ? undefined : this.expiries.get(token);
    if (expiresAt !== undefined && expiresAt > Date.now()) return;
    if (req.path.startsWith("/v1/")) {
      throw new PaypalFailure({
        status: 401,
        body: { error: "invalid_token", error_description: "Token signature verification failed" },
      });
    }
    fail("AUTHENTICATION_FAILURE");
  }
}

function sameSecret(a: string, b: string): boolean {
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}
