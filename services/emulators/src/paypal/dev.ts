import type { DevProfile } from "../dev-profile";
import { paypalEmulator, paypalTestTokens } from "./index";

const credentials = { client_id: "onerouter_dev_client", client_secret: "onerouter_dev_secret", webhook_id: "WH-ONEROUTER-DEV" };

// Dev routing sends euros to PayPal first.
export const paypalDevProfile: DevProfile = {
  provider: "paypal",
  title: "PayPal",
  category: "payments",
  credentials,
  payments: {
    approvedToken: paypalTestTokens.succeed,
    routedByDefault: false,
    preferredFor: { rule: "euros via PayPal", currencies: ["EUR"] },
  },
  emulate: (webhookUrl) => ({
    emulator: paypalEmulator({
      clientId: credentials.client_id,
      clientSecret: credentials.client_secret,
      webhook: { url: webhookUrl, webhookId: credentials.webhook_id },
    }),
  }),
};
