import type { DevProfile } from "./dev-profile";
import { mailgunDevProfile } from "./mailgun/dev";
import { paypalDevProfile } from "./paypal/dev";
import { razorpayDevProfile } from "./razorpay/dev";
import { sendgridDevProfile } from "./sendgrid/dev";
import { stripeDevProfile } from "./stripe/dev";
import { twilioDevProfile } from "./twilio/dev";
import { vonageDevProfile } from "./vonage/dev";

// The providers `onerouter dev` emulates, in the order it starts them (each
// on the next port) and routes payments among the default targets.
export const devProfiles: readonly DevProfile[] = [
  stripeDevProfile,
  razorpayDevProfile,
  paypalDevProfile,
  twilioDevProfile,
  vonageDevProfile,
  sendgridDevProfile,
  mailgunDevProfile,
];
