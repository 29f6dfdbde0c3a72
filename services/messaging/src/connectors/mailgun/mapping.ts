import type { MailgunMessageContent } from "mailgun.js/definitions";
import type { EmailAddress } from "../connector";

// User variables (`v:` fields) tie a Mailgun message to OneRouter: Mailgun
// echoes them in the user-variables of every event about the message.
export const attemptIdVariable = "onerouter_attempt_id";
export const messageIdVariable = "onerouter_message_id";

// An RFC 5322 mailbox. The name is always quoted, so commas and other
// specials in it cannot split the address list; line breaks are dropped.
export function mailbox({ email, name }: EmailAddress): string {
  if (!name) return email;
  return `"${name.replace(/[\r\n]+/g, " ").replace(/["\\]/g, "\\$&")}" <${email}>`;
}

export function content(text: string | undefined, html: string | undefined): MailgunMessageContent | undefined {
  if (text && html) return { text, html };
  if (text) return { text };
  if (html) return { html };
  return undefined;
}
