import type { DevProfile } from "../dev-profile";
import { sendgridEmulator } from "./index";

const apiKey = "SG.onerouter_dev.key";

// The Event Webhook's public key is the emulator's, made at each start: the
// account holds a placeholder until the emulator exists.
export const sendgridDevProfile: DevProfile = {
  provider: "sendgrid",
  title: "SendGrid",
  category: "messaging",
  credentials: { event_webhook_public_key: "pending", api_key: apiKey },
  emulate: (webhookUrl) => {
    const sendgrid = sendgridEmulator({ apiKey, eventWebhookUrl: webhookUrl });
    return {
      emulator: sendgrid,
      credentials: { api_key: apiKey, event_webhook_public_key: sendgrid.eventWebhookPublicKey },
      reportDelivery: (id, delivered) => sendgrid.reportEvents(id, delivered ? "delivered" : "bounce"),
    };
  },
};
