import type { DevProfile } from "../dev-profile";
import { vonageEmulator } from "./index";

const credentials = { api_key: "onerouterdev", api_secret: "onerouter_dev_secret", signature_secret: "onerouter_dev_signature" };
const signatureMethod = "sha256hmac";

// Delivery receipts go to the dashboard's receipt URL: the account's inbound URL.
export const vonageDevProfile: DevProfile = {
  provider: "vonage",
  title: "Vonage",
  category: "messaging",
  credentials,
  settings: { default_from: "OneRouter", signature_method: signatureMethod },
  emulate: (webhookUrl) => {
    const vonage = vonageEmulator({
      apiKey: credentials.api_key,
      apiSecret: credentials.api_secret,
      signatureSecret: credentials.signature_secret,
      signatureMethod,
      receiptUrl: webhookUrl,
    });
    return {
      emulator: vonage,
      reportDelivery: (id, delivered) =>
        vonage.deliveryReceipt(id, delivered ? "delivered" : "failed", {
          deliver: true,
          ...(delivered ? {} : { errCode: "6" }),
        }),
    };
  },
};
