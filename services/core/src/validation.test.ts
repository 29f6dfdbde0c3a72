import { create } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "@onerouter/client/gen/google/rpc/error_details_pb";
import { EmailContentSchema } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { CreatePaymentRequestSchema } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { describe, expect, it } from "vitest";
import { rejectNulCharacters } from "./validation";

function nulField(run: () => void): string | undefined {
  try {
    run();
    return undefined;
  } catch (err) {
    return (err as ConnectError).findDetails(ErrorInfoSchema)[0]?.metadata.field;
  }
}

describe("rejectNulCharacters", () => {
  it("accepts strings without NUL, whatever else they hold", () => {
    const request = create(CreatePaymentRequestSchema, { currency: "USD", description: "💳 %zz \\0", metadata: { "a b": "c" } });
    expect(nulField(() => rejectNulCharacters(CreatePaymentRequestSchema, request))).toBeUndefined();
  });

  it("names the field holding a NUL, in nested messages, lists and maps (keys too)", () => {
    const check = (init: Parameters<typeof create<typeof CreatePaymentRequestSchema>>[1]) =>
      nulField(() => rejectNulCharacters(CreatePaymentRequestSchema, create(CreatePaymentRequestSchema, init)));
    expect(check({ currency: "US\u0000" })).toBe("currency");
    expect(check({ paymentMethod: { token: "pm_\u0000" } })).toBe("payment_method.token");
    expect(check({ paymentMethod: { providerTokens: { stripe: "\u0000" } } })).toBe('payment_method.provider_tokens["stripe"]');
    expect(check({ metadata: { "k\u0000": "v" } })).toBe('metadata["k\\u0000"]');
    const email = create(EmailContentSchema, { to: [{ email: "a@example.com" }, { email: "b@example.com", name: "B\u0000" }] });
    expect(nulField(() => rejectNulCharacters(EmailContentSchema, email))).toBe("to[1].name");
  });
});
