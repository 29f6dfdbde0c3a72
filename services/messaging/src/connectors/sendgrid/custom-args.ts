// Custom args tie a SendGrid message to OneRouter: SendGrid echoes them at
// the top level of every event about the message.
export const attemptIdArg = "onerouter_attempt_id";
export const messageIdArg = "onerouter_message_id";
