import { create } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "@onerouter/client/gen/google/rpc/error_details_pb";
import { EmailContentSchema } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { CreatePaymentRequestSchema } from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { describe, expect, it } from "vitest";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { TimeRange } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { rejectNulCharacters, validTimeRange } from "./validation";

function refusedField(run: () => void): string | undefined {
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
    expect(refusedField(() => rejectNulCharacters(CreatePaymentRequestSchema, request))).toBeUndefined();
  });

  it("names the field holding a NUL, in nested messages, lists and maps (keys too)", () => {
    const check = (init: Parameters<typeof create<typeof CreatePaymentRequestSchema>>[1]) =>
      refusedField(() => rejectNulCharacters(CreatePaymentRequestSchema, create(CreatePaymentRequestSchema, init)));
    expect(check({ currency: "US\u0000" })).toBe("currency");
    expect(check({ paymentMethod: { token: "pm_\u0000" } })).toBe("payment_method.token");
    expect(check({ paymentMethod: { providerTokens: { stripe: "\u0000" } } })).toBe('payment_method.provider_tokens["stripe"]');
    expect(check({ metadata: { "k\u0000": "v" } })).toBe('metadata["k\\u0000"]');
    const email = create(EmailContentSchema, { to: [{ email: "a@example.com" }, { email: "b@example.com", name: "B\u0000" }] });
    expect(refusedField(() => rejectNulCharacters(EmailContentSchema, email))).toBe("to[1].name");
  });
});

describe("validTimeRange", () => {
  const at = (seconds: bigint, nanos = 0) => ({ seconds, nanos }) as Timestamp;

  it("refuses a bound outside the years 1 to 9999, naming it, and a start after the end", () => {
    expect(refusedField(() => validTimeRange("create_time", { startTime: at(10n ** 15n) } as TimeRange))).toBe("create_time.start_time");
    expect(refusedField(() => validTimeRange("range", { endTime: at(-(10n ** 12n)) } as TimeRange))).toBe("range.end_time");
    expect(refusedField(() => validTimeRange("range", { startTime: at(0n, -1) } as TimeRange))).toBe("range.start_time");
    expect(refusedField(() => validTimeRange("create_time", { startTime: at(20n), endTime: at(10n) } as TimeRange))).toBe("create_time");
  });

  it("takes the widest valid range, an open bound and an empty range", () => {
    const widest = { startTime: at(-62_135_596_800n), endTime: at(253_402_300_799n, 999_999_999) } as TimeRange;
    expect(validTimeRange("create_time", widest)).toBe(widest);
    expect(validTimeRange("create_time", { endTime: at(0n) } as TimeRange)).toEqual({ endTime: at(0n) });
    expect(validTimeRange("create_time", undefined)).toBeUndefined();
  });
});
