import type { EmailAddress } from "../connector";

// Custom args tie a SendGrid message to OneRouter: SendGrid echoes them at
// the top level of every event about the message.
export const attemptIdArg = "onerouter_attempt_id";
export const messageIdArg = "onerouter_message_id";

// An address as SendGrid takes it: without a name when it has none.
export function address({ email, name }: EmailAddress): { email: string; name?: string } {
  return name ? { email, name } : { email };
}
