import type { DevProfile } from "../dev-profile";
import { mailgunEmulator } from "./index";

const credentials = { api_key: "onerouter-dev-key", domain: "mg.onerouter.dev", webhook_signing_key: "onerouter-dev-signing-key" };

export const mailgunDevProfile: DevProfile = {
  provider: "mailgun",
  title: "Mailgun",
  category: "messaging",
  credentials,
  emulate: (webhookUrl) => {
    const mailgun = mailgunEmulator({
      apiKey: credentials.api_key,
      domain: credentials.domain,
      webhookSigningKey: credentials.webhook_signing_key,
      webhookUrl,
    });
    return {
      emulator: mailgun,
      reportDelivery: (id, delivered) => mailgun.reportEvent(id, delivered ? "delivered" : "permanent_failure"),
    };
  },
};
