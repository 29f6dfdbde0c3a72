// User variables (`v:` fields) tie a Mailgun message to OneRouter: Mailgun
// echoes them in the user-variables of every event about the message.
export const attemptIdVariable = "onerouter_attempt_id";
export const messageIdVariable = "onerouter_message_id";
