import { describe, expect, it } from "vitest";
import { forbiddenDestinationCode } from "@onerouter/core";
import { answeredFailure, type DocumentedStatuses, neverSent, notProvidersAnswer, transportFailure } from "./call-failures";

function socketError(code: string, syscall?: string): Error {
  return Object.assign(new Error(`${syscall ?? "read"} ${code}`), { code, ...(syscall && { syscall }) });
}

describe("neverSent", () => {
  it("holds for failures before a connection came up", () => {
    for (const code of ["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EAI_NONAME", "EHOSTUNREACH", "ENETUNREACH", forbiddenDestinationCode]) {
      expect(neverSent(socketError(code)), code).toBe(true);
    }
    expect(neverSent(socketError("EADDRNOTAVAIL", "connect"))).toBe(true);
    expect(neverSent(socketError("ESERVFAIL", "getaddrinfo"))).toBe(true);
  });

  it("holds for a wrapper whose causes all say so, and for a dual-stack connect refused on every address", () => {
    const wrapped = Object.assign(new Error("request failed"), { code: "ECONNREFUSED", cause: socketError("ECONNREFUSED", "connect") });
    expect(neverSent(wrapped)).toBe(true);
    expect(neverSent(Object.assign(new Error("no code"), { cause: socketError("ECONNREFUSED") }))).toBe(true);
    expect(neverSent(new AggregateError([socketError("ECONNREFUSED", "connect"), socketError("ENETUNREACH", "connect")]))).toBe(true);
  });

  it("does not hold once the request may have been on the wire, or when nothing says", () => {
    expect(neverSent(socketError("ECONNRESET"))).toBe(false);
    expect(neverSent(socketError("ETIMEDOUT"))).toBe(false);
    expect(neverSent(Object.assign(new Error("wrapped"), { code: "ECONNREFUSED", cause: socketError("ECONNRESET") }))).toBe(false);
    expect(neverSent(new AggregateError([socketError("ECONNREFUSED", "connect"), socketError("ECONNRESET")]))).toBe(false);
    expect(neverSent(new AggregateError([]))).toBe(false);
    expect(neverSent(new Error("no code"))).toBe(false);
    expect(neverSent("ECONNREFUSED")).toBe(false);
    expect(neverSent(undefined)).toBe(false);
  });
});

describe("transportFailure", () => {
  it("fails over only what was never sent", () => {
    expect(transportFailure("p", "P", socketError("ECONNREFUSED", "connect"))).toMatchObject({
      kind: "not_processed",
      provider: "p",
      details: { reason: "PROVIDER_UNAVAILABLE" },
    });
    for (const timeout of [socketError("ETIMEDOUT"), socketError("ECONNABORTED"), Object.assign(new Error("aborted"), { name: "AbortError" })]) {
      expect(transportFailure("p", "P", timeout)).toMatchObject({ kind: "ambiguous", details: { reason: "PROVIDER_TIMEOUT" } });
    }
    expect(transportFailure("p", "P", socketError("ECONNRESET"))).toMatchObject({
      kind: "ambiguous",
      details: { reason: "PROVIDER_CONNECTION_LOST" },
    });
  });

  it("takes what the client saw of the socket over the error's codes", () => {
    expect(transportFailure("p", "P", new Error("no answer"), { connected: false, timedOut: true })).toMatchObject({
      kind: "not_processed",
      details: { reason: "PROVIDER_UNAVAILABLE" },
    });
    expect(transportFailure("p", "P", socketError("ECONNREFUSED"), { connected: true, timedOut: false })).toMatchObject({
      kind: "ambiguous",
      details: { reason: "PROVIDER_CONNECTION_LOST" },
    });
    expect(transportFailure("p", "P", new Error("no answer"), { connected: true, timedOut: true })).toMatchObject({
      kind: "ambiguous",
      details: { reason: "PROVIDER_TIMEOUT" },
    });
  });
});

describe("answers", () => {
  const documented: DocumentedStatuses = {
    notProcessed: { 401: "PROVIDER_AUTHENTICATION_FAILED", "5xx": "PROVIDER_UNAVAILABLE" },
    ambiguous: { 504: "PROVIDER_TIMEOUT", 409: "PROVIDER_CONFLICT" },
    rejected: "PROVIDER_REJECTED",
  };

  it("reads a provider's own error status as it documents it", () => {
    expect(answeredFailure("p", documented, 401, "bad key", { providerCode: "auth" })).toMatchObject({
      kind: "not_processed",
      message: "bad key",
      details: { reason: "PROVIDER_AUTHENTICATION_FAILED", httpStatus: 401, providerCode: "auth" },
    });
    expect(answeredFailure("p", documented, 504, "")).toMatchObject({ kind: "ambiguous", details: { reason: "PROVIDER_TIMEOUT" } });
    expect(answeredFailure("p", documented, 500, "")).toMatchObject({ kind: "not_processed", details: { reason: "PROVIDER_UNAVAILABLE" } });
    expect(answeredFailure("p", documented, 409, "")).toMatchObject({ kind: "ambiguous", details: { reason: "PROVIDER_CONFLICT" } });
    expect(answeredFailure("p", documented, 422, "")).toMatchObject({ kind: "invalid_request", details: { reason: "PROVIDER_REJECTED" } });
  });

  it("lets an exact status win over the range of another kind", () => {
    const retriable: DocumentedStatuses = { notProcessed: { 503: "PROVIDER_UNAVAILABLE" }, ambiguous: { "5xx": "PROVIDER_UNAVAILABLE" }, rejected: "PROVIDER_REJECTED" };
    expect(answeredFailure("p", retriable, 503, "")).toMatchObject({ kind: "not_processed" });
    expect(answeredFailure("p", retriable, 500, "")).toMatchObject({ kind: "ambiguous" });
    expect(answeredFailure("p", retriable, 400, "")).toMatchObject({ kind: "invalid_request" });
  });

  it("never reads a gateway's answer as the provider's: only a 429 was not processed", () => {
    expect(notProvidersAnswer("p", "P", 429)).toMatchObject({ kind: "not_processed", details: { reason: "PROVIDER_RATE_LIMITED", httpStatus: 429 } });
    expect(notProvidersAnswer("p", "P", 503)).toMatchObject({ kind: "ambiguous", details: { reason: "PROVIDER_UNAVAILABLE", httpStatus: 503 } });
    expect(notProvidersAnswer("p", "P", 404)).toMatchObject({ kind: "ambiguous", details: { reason: "PROVIDER_INVALID_RESPONSE" } });
  });
});
