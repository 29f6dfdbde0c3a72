import { randomBytes } from "node:crypto";
import type { EmulatorReply } from "@onerouter/sandbox";

// Razorpay's entities as its API returns them. Empty notes go over the wire
// as [] rather than {}, as Razorpay's API does.

export type Notes = Record<string, string>;

export interface RazorpayOrder {
  id: string;
  entity: "order";
  amount: number;
  amount_paid: number;
  amount_due: number;
  currency: string;
  receipt: string | null;
  offer_id: null;
  status: "created" | "attempted" | "paid";
  attempts: number;
  notes: Notes;
  created_at: number;
}

export interface RazorpayPayment {
  id: string;
  entity: "payment";
  amount: number;
  currency: string;
  status: "created" | "authorized" | "captured" | "refunded" | "failed";
  order_id: string;
  invoice_id: null;
  international: boolean;
  method: "card";
  amount_refunded: number;
  refund_status: "partial" | "full" | null;
  captured: boolean;
  description: string | null;
  card_id: string;
  bank: null;
  wallet: null;
  vpa: null;
  email: string | null;
  contact: string | null;
  notes: Notes;
  fee: number | null;
  tax: number | null;
  error_code: string | null;
  error_description: string | null;
  error_source: string | null;
  error_step: string | null;
  error_reason: string | null;
  acquirer_data: { auth_code: string | null };
  created_at: number;
}

export interface RazorpayRefund {
  id: string;
  entity: "refund";
  amount: number;
  currency: string;
  payment_id: string;
  notes: Notes;
  receipt: string | null;
  acquirer_data: { arn: string | null };
  created_at: number;
  batch_id: null;
  status: "pending" | "processed" | "failed";
  speed_processed: "normal";
  speed_requested: "normal" | "optimum";
}

export type RazorpayEntity = RazorpayOrder | RazorpayPayment | RazorpayRefund;

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// Razorpay ids are a prefix and 14 base62 characters, e.g. pay_29QQoUBi66xm2f.
export function razorpayId(prefix: string): string {
  const bytes = randomBytes(14);
  let id = "";
  for (const byte of bytes) id += base62[byte % 62];
  return prefix ? `${prefix}_${id}` : id;
}

export function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}

export function wire<T extends RazorpayEntity>(entity: T): Omit<T, "notes"> & { notes: Notes | [] } {
  return { ...entity, notes: Object.keys(entity.notes).length === 0 ? [] : entity.notes };
}

export function collection(items: RazorpayEntity[]) {
  return { entity: "collection", count: items.length, items: items.map(wire) };
}

export interface RazorpayErrorDetails {
  code?: "BAD_REQUEST_ERROR" | "GATEWAY_ERROR" | "SERVER_ERROR";
  description: string;
  source?: string;
  step?: string;
  reason?: string;
  field?: string | null;
  metadata?: Record<string, string>;
}

// Razorpay's error envelope: {"error": {code, description, source, step, reason, metadata, field}}.
export function errorReply(status: number, details: RazorpayErrorDetails): EmulatorReply {
  return {
    status,
    body: {
      error: {
        code: details.code ?? "BAD_REQUEST_ERROR",
        description: details.description,
        source: details.source ?? "NA",
        step: details.step ?? "NA",
        reason: details.reason ?? "NA",
        metadata: details.metadata ?? {},
        ...(details.field !== undefined ? { field: details.field } : {}),
      },
    },
  };
}

export function invalidInput(description: string, field: string | null, metadata: Record<string, string> = {}) {
  return errorReply(400, {
    description,
    field,
    source: "business",
    step: "payment_initiation",
    reason: "input_validation_failed",
    metadata,
  });
}

// Razorpay answers unknown ids with a 400, not a 404.
export function unknownId(): EmulatorReply {
  return errorReply(400, { description: "The id provided does not exist", field: "id" });
}

// Razorpay limits notes to 15 pairs of at most 256 characters.
export function readNotes(value: unknown): Notes | string {
  if (value === undefined || value === null) return {};
  if (Array.isArray(value) && value.length === 0) return {};
  if (typeof value !== "object" || Array.isArray(value)) return "notes must be an object";
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > 15) return "Number of notes cannot exceed 15";
  const notes: Notes = {};
  for (const [key, note] of entries) {
    if (typeof note !== "string" && typeof note !== "number") return `notes.${key} must be a string or number`;
    if (String(note).length > 256) return `notes.${key} may not be greater than 256 characters`;
    notes[key] = String(note);
  }
  return notes;
}
