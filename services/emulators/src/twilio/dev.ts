import type { DevProfile } from "../dev-profile";
import { twilioEmulator } from "./index";

const credentials = { account_sid: "AC0000000000000000000000000000dev0", auth_token: "onerouter_dev_auth_token" };

// Status callbacks go to the StatusCallback URL of each message, so the
// account's inbound URL is not needed.
export const twilioDevProfile: DevProfile = {
  provider: "twilio",
  title: "Twilio",
  category: "messaging",
  credentials,
  settings: { default_from: "OneRouter" },
  emulate: () => {
    const twilio = twilioEmulator({ accountSid: credentials.account_sid, authToken: credentials.auth_token });
    return {
      emulator: twilio,
      reportDelivery: (id, delivered) =>
        twilio.reportStatus(id, delivered ? "delivered" : "undelivered", {
          deliver: true,
          ...(delivered ? {} : { errorCode: 30003 }),
        }),
    };
  },
};
