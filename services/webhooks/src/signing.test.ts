import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { newEndpointSecret } from "./secrets";
import { signStandardWebhook } from "./signing";

describe("signStandardWebhook", () => {
  it("produces signatures the standardwebhooks library verifies, one per secret", () => {
    const current = newEndpointSecret();
    const previous = newEndpointSecret();
    const body = JSON.stringify({ id: "evt_1", type: "payment.succeeded" });
    const headers = signStandardWebhook({ id: "evt_1", timestamp: new Date(), body, secrets: [current, previous] });
    expect(headers["webhook-signature"]!.split(" ")).toHaveLength(2);
    for (const secret of [current, previous]) {
      expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    }
    expect(() => new Webhook(newEndpointSecret()).verify(body, headers)).toThrow();
    expect(() => new Webhook(current).verify(body + " ", headers)).toThrow();
  });

  it("is refused when the timestamp is stale", () => {
    const secret = newEndpointSecret();
    const headers = signStandardWebhook({ id: "evt_2", timestamp: new Date(Date.now() - 3600_000), body: "{}", secrets: [secret] });
    expect(() => new Webhook(secret).verify("{}", headers)).toThrow();
  });
});
