import type { ProviderMessageStatus } from "../connector";

// Twilio's message statuses in OneRouter's terms; undefined for statuses of
// inbound messages and any Twilio adds later.
export function messageStatus(status: string): ProviderMessageStatus | undefined {
  switch (status) {
    case "accepted":
    case "scheduled":
    case "queued":
    case "sending":
      return "queued";
    case "sent":
      return "sent";
    case "delivered":
    case "read":
      return "delivered";
    case "undelivered":
      return "undelivered";
    case "failed":
    case "canceled":
      return "failed";
    default:
      return undefined;
  }
}
