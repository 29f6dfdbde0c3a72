import { describe, expect, it } from "vitest";
import { countryOfNumber, isE164 } from "./phone-numbers";
import { smsSegments } from "./sms-encoding";

describe("E.164 numbers", () => {
  it("takes strict E.164 only, with a valid North American number after +1", () => {
    for (const ok of ["+14155550100", "+447700900123", "+919876543210", "+8613812345678"]) expect(isE164(ok), ok).toBe(true);
    for (const bad of ["14155550100", "+04155550100", "+1415555010", "+11155550100", "+1 415 555 0100", "+4477009001234567", "+1234567"]) {
      expect(isE164(bad), bad).toBe(false);
    }
  });

  it("finds the country from the longest matching calling code", () => {
    expect(countryOfNumber("+14155550100")).toBe("US");
    expect(countryOfNumber("+14165550100")).toBe("CA");
    expect(countryOfNumber("+447700900123")).toBe("GB");
    expect(countryOfNumber("+919876543210")).toBe("IN");
    expect(countryOfNumber("+79161234567")).toBe("RU");
    expect(countryOfNumber("+77011234567")).toBe("KZ");
    expect(countryOfNumber("+971501234567")).toBe("AE");
    // Unassigned, or a country providers do not deliver to.
    expect(countryOfNumber("+99912345678")).toBeUndefined();
    expect(countryOfNumber("+8501234567890")).toBeUndefined();
  });
});

describe("SMS segments", () => {
  it("fits 160 GSM-7 characters in one message and 153 in each part of a longer one", () => {
    expect(smsSegments("a".repeat(160))).toEqual({ encoding: "gsm7", segments: 1 });
    expect(smsSegments("a".repeat(161))).toEqual({ encoding: "gsm7", segments: 2 });
    expect(smsSegments("a".repeat(306))).toEqual({ encoding: "gsm7", segments: 2 });
    expect(smsSegments("a".repeat(307))).toEqual({ encoding: "gsm7", segments: 3 });
  });

  it("counts the extension characters twice", () => {
    expect(smsSegments("{".repeat(80))).toEqual({ encoding: "gsm7", segments: 1 });
    expect(smsSegments("{".repeat(81))).toEqual({ encoding: "gsm7", segments: 2 });
  });

  it("switches the whole message to UCS-2 for one character outside GSM-7: 70 units alone, 67 per part", () => {
    expect(smsSegments("a".repeat(69) + "ж")).toEqual({ encoding: "ucs2", segments: 1 });
    expect(smsSegments("a".repeat(70) + "ж")).toEqual({ encoding: "ucs2", segments: 2 });
    expect(smsSegments("ж".repeat(134))).toEqual({ encoding: "ucs2", segments: 2 });
    // An emoji is two UTF-16 units.
    expect(smsSegments("🙂".repeat(35))).toEqual({ encoding: "ucs2", segments: 1 });
    expect(smsSegments("🙂".repeat(36))).toEqual({ encoding: "ucs2", segments: 2 });
  });
});
