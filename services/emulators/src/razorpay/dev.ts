import type { DevProfile } from "../dev-profile";
import { razorpayEmulator, razorpayTestTokens } from "./index";

const credentials = { key_id: "rzp_test_onerouterdev", key_secret: "onerouter_dev_secret", webhook_secret: "onerouter_dev_webhook" };

// Dev routing sends rupees to Razorpay first, and other currencies to it when the primary fails.
export const razorpayDevProfile: DevProfile = {
  provider: "razorpay",
  title: "Razorpay",
  category: "payments",
  credentials,
  payments: {
    approvedToken: razorpayTestTokens.success,
    routedByDefault: true,
    preferredFor: { rule: "rupees via Razorpay", currencies: ["INR"] },
  },
  emulate: (webhookUrl) => ({
    emulator: razorpayEmulator({
      keyId: credentials.key_id,
      keySecret: credentials.key_secret,
      webhookSecret: credentials.webhook_secret,
      webhookUrl,
    }),
  }),
};
