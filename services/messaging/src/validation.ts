import {
  Channel,
  MessageStatus,
  type EmailAddress,
  type EmailContent,
  type ListMessagesRequest,
  type SendMessageRequest,
  type SmsContent,
} from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { invalidArgument, isEmailAddress, maxLength, validMetadata, validTimeRange } from "@onerouter/core";
import { countryOfNumber, isE164 } from "./phone-numbers";
import { smsSegments, type SmsEncoding } from "./sms-encoding";
import { messageStateOf } from "./state";
import type { MessageFilter } from "./rows";

// Request checks that answer INVALID_ARGUMENT naming the field, before
// anything is stored or sent to a provider.

// Carriers reassemble up to about ten parts reliably; providers cap a body
// near there too (Twilio at 1600 characters).
export const maxSmsSegments = 10;
// Header and body limits most email providers share.
const maxRecipients = 50;
const maxSubjectLength = 998;
const maxNameLength = 256;
const maxEmailBodyBytes = 1024 * 1024;

// An alphanumeric sender id: up to 11 letters, digits or spaces, at least one letter.
const senderId = /^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$/;

export type MessageContent = { case: "sms"; value: SmsContent } | { case: "email"; value: EmailContent };

export interface NewMessage {
  content: MessageContent;
  metadata: Record<string, string>;
  // SMS only: ISO 3166-1 alpha-2 of the destination, parts and encoding.
  country: string;
  segments: number;
  encoding: SmsEncoding | "";
  // What providers charge by: SMS segments, or email recipients.
  billableUnits: number;
}

export function validSendMessage(req: SendMessageRequest): NewMessage {
  const metadata = validMetadata("metadata", req.metadata);
  switch (req.content.case) {
    case "sms":
      return { ...validSms(req.content.value), metadata };
    case "email":
      return { ...validEmail(req.content.value), metadata };
    default:
      throw invalidArgument("content", "must be sms or email");
  }
}

function validSms(sms: SmsContent): Omit<NewMessage, "metadata"> {
  if (sms.to === "") throw invalidArgument("sms.to", "is required");
  if (!isE164(sms.to)) throw invalidArgument("sms.to", "must be an E.164 number such as +14155550100");
  const country = countryOfNumber(sms.to);
  if (!country) throw invalidArgument("sms.to", `${sms.to} is not in a country OneRouter sends SMS to`, "UNSUPPORTED_COUNTRY");
  if (sms.from !== "" && !isE164(sms.from) && !senderId.test(sms.from)) {
    throw invalidArgument("sms.from", "must be an E.164 number or an alphanumeric sender id of up to 11 characters");
  }
  if (sms.body.trim() === "") throw invalidArgument("sms.body", "must not be empty");
  const { encoding, segments } = smsSegments(sms.body);
  if (segments > maxSmsSegments) {
    throw invalidArgument("sms.body", `takes ${segments} ${encoding === "gsm7" ? "GSM-7" : "UCS-2"} segments; at most ${maxSmsSegments} are sent`, "MESSAGE_TOO_LONG");
  }
  return { content: { case: "sms", value: sms }, country, segments, encoding, billableUnits: segments };
}

function validEmail(email: EmailContent): Omit<NewMessage, "metadata"> {
  if (!email.from) throw invalidArgument("email.from.email", "is required");
  validAddress("email.from", email.from);
  if (email.to.length === 0) throw invalidArgument("email.to", "must name at least one recipient");
  const recipients = email.to.length + email.cc.length + email.bcc.length;
  if (recipients > maxRecipients) throw invalidArgument("email.to", `to, cc and bcc together must name at most ${maxRecipients} recipients`);
  for (const [list, addresses] of [["to", email.to], ["cc", email.cc], ["bcc", email.bcc]] as const) {
    addresses.forEach((address, i) => validAddress(`email.${list}[${i}]`, address));
  }
  if (email.replyTo) validAddress("email.reply_to", email.replyTo);
  if (email.subject.trim() === "") throw invalidArgument("email.subject", "is required");
  maxLength("email.subject", email.subject, maxSubjectLength);
  if (/[\r\n]/.test(email.subject)) throw invalidArgument("email.subject", "must be one line");
  if (email.text === "" && email.html === "") throw invalidArgument("email.text", "email.text or email.html is required");
  for (const [field, body] of [["email.text", email.text], ["email.html", email.html]] as const) {
    if (Buffer.byteLength(body) > maxEmailBodyBytes) throw invalidArgument(field, `must be at most ${maxEmailBodyBytes} bytes`);
  }
  return { content: { case: "email", value: email }, country: "", segments: 0, encoding: "", billableUnits: recipients };
}

function validAddress(field: string, address: EmailAddress): void {
  if (address.email === "") throw invalidArgument(`${field}.email`, "is required");
  if (!isEmailAddress(address.email)) {
    throw invalidArgument(`${field}.email`, `${address.email.slice(0, 100)} is not an email address`);
  }
  maxLength(`${field}.name`, address.name, maxNameLength);
  if (/[\r\n]/.test(address.name)) throw invalidArgument(`${field}.name`, "must be one line");
}

export function validMessageFilter(req: ListMessagesRequest): MessageFilter {
  const filter: MessageFilter = { provider: req.provider || undefined, createTime: validTimeRange("create_time", req.createTime) };
  if (req.channel !== Channel.UNSPECIFIED) {
    if (req.channel !== Channel.SMS && req.channel !== Channel.EMAIL) throw invalidArgument("channel", "is not a Channel");
    filter.channel = req.channel === Channel.SMS ? "sms" : "email";
  }
  if (req.status !== MessageStatus.UNSPECIFIED) {
    filter.status = messageStateOf(req.status);
    if (!filter.status) throw invalidArgument("status", "is not a MessageStatus");
  }
  return filter;
}
