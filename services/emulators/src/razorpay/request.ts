import type { EmulatorReply, EmulatorRequest } from "@onerouter/sandbox";
import type { RazorpayAccount } from "./account";

// A request as a route handler sees it: path parameters and the JSON body.

export type Body = Record<string, unknown>;

export type Handler = (account: RazorpayAccount, params: string[], body: Body, req: EmulatorRequest) => EmulatorReply;

export function isObject(value: unknown): value is Body {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
