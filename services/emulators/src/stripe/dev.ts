import type { DevProfile } from "../dev-profile";
import { stripeEmulator } from "./index";

const credentials = { secret_key: "sk_test_onerouter_dev", webhook_secret: "whsec_onerouter_dev" };

// Dev routing's primary: every currency without a rule of its own goes to Stripe first.
export const stripeDevProfile: DevProfile = {
  provider: "stripe",
  title: "Stripe",
  category: "payments",
  credentials,
  payments: { approvedToken: "pm_card_visa", routedByDefault: true },
  emulate: (webhookUrl) => ({
    emulator: stripeEmulator({ secretKey: credentials.secret_key, webhookSecret: credentials.webhook_secret, webhookUrl }),
  }),
};
