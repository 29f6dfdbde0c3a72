import { create, toJsonString } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Category, Environment, ProviderErrorSchema } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import {
  EventSchema,
  EventType,
  MessageEventDataSchema,
  PaymentEventDataSchema,
  PricingEventDataSchema,
  ProviderAccountEventDataSchema,
  RefundEventDataSchema,
  TestEventDataSchema,
  UsageEventDataSchema,
  WebhookEndpointEventDataSchema,
  type Event,
} from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import {
  Channel,
  MessageSchema,
  MessageStatus,
  SmsEncoding,
  type Message,
} from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import {
  AttemptStatus,
  CaptureMethod,
  NextActionSchema,
  PaymentAttemptSchema,
  PaymentSchema,
  PaymentStatus,
  RefundSchema,
  RefundStatus,
  type Payment,
  type Refund,
} from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import {
  EventTypeSchema as ListedEventTypeSchema,
  type EventType as ListedEventType,
} from "@onerouter/client/gen/onerouter/webhooks/v1/webhooks_pb";
import { eventTypeNames } from "@onerouter/core";

// What each event type in events.proto means, with an example of the proto3
// JSON an endpoint receives. Endpoint filters and event listing accept the
// types' names, or a prefix of them followed by ".*".

// The examples tell one story: a payment created at exampleTime that
// Razorpay could not take and Stripe did, later refunded, then a shipping SMS.
const exampleTime = new Date("2026-11-21T10:15:30.000Z");
const tenantId = "ten_01jd3k2m4n6p8q0r2s4t6v8w0x";
const paymentId = "pay_01jd3k7m2x9q4r8t6v5w0y1z2a";
const razorpayAccountId = "pa_01jd2z8y6x4w2v0t8s6r4q2p0n";
const stripeAccountId = "pa_01jd2z9a7b5c3d1e9f7g5h3j1k";
const stripePaymentId = "pi_3QbZ8hLkdIwHu7ix0xq1Yt2M";

const at = (seconds: number) => timestampFromDate(new Date(exampleTime.getTime() + seconds * 1000));

const cardDeclined = () =>
  create(ProviderErrorSchema, {
    reason: "PROVIDER_DECLINED",
    message: "Your card has insufficient funds.",
    declineCode: "insufficient_funds",
    provider: "stripe",
    providerCode: "card_declined",
  });

const razorpayUnavailable = () =>
  create(PaymentAttemptSchema, {
    id: "att_01jd3k7m3b5c7d9e1f3g5h7j9k",
    provider: "razorpay",
    providerAccountId: razorpayAccountId,
    status: AttemptStatus.FAILED,
    error: {
      reason: "PROVIDER_UNAVAILABLE",
      message: "razorpay answered 503 Service Unavailable",
      provider: "razorpay",
      providerCode: "SERVER_ERROR",
    },
    latency: { nanos: 184_000_000 },
    estimatedFee: 50n,
    createTime: at(0),
  });

const stripeAttempt = (status: AttemptStatus) =>
  create(PaymentAttemptSchema, {
    id: "att_01jd3k7m4c6d8e0f2g4h6j8k0m",
    provider: "stripe",
    providerAccountId: stripeAccountId,
    status,
    latency: { nanos: 412_000_000 },
    estimatedFee: 103n,
    providerPaymentId: stripePaymentId,
    createTime: at(1),
  });

// The payment as created, or as Stripe left it with the given attempt status.
function payment(
  captureMethod: CaptureMethod,
  status: PaymentStatus,
  stripe?: { attempt: AttemptStatus; updatedAfterSeconds: number },
): Payment {
  const made = create(PaymentSchema, {
    id: paymentId,
    environment: Environment.LIVE,
    amount: 2500n,
    currency: "USD",
    captureMethod,
    status,
    customer: { id: "cus_4821", email: "jane@example.com", name: "Jane Doe", country: "US" },
    description: "Order #4821",
    metadata: { order_id: "4821" },
    returnUrl: "https://shop.example.com/orders/4821/return",
    createTime: at(0),
    updateTime: at(stripe?.updatedAfterSeconds ?? 0),
  });
  if (stripe) {
    made.provider = "stripe";
    made.providerAccountId = stripeAccountId;
    made.providerPaymentId = stripePaymentId;
    made.attempts = [razorpayUnavailable(), stripeAttempt(stripe.attempt)];
  }
  return made;
}

function succeededPayment(captureMethod: CaptureMethod, updatedAfterSeconds: number): Payment {
  const made = payment(captureMethod, PaymentStatus.SUCCEEDED, { attempt: AttemptStatus.SUCCEEDED, updatedAfterSeconds });
  made.amountCaptured = 2500n;
  return made;
}

function requiresAction(): Payment {
  const made = payment(CaptureMethod.AUTOMATIC, PaymentStatus.REQUIRES_ACTION, {
    attempt: AttemptStatus.REQUIRES_ACTION,
    updatedAfterSeconds: 1,
  });
  made.nextAction = create(NextActionSchema, {
    action: {
      case: "redirectToUrl",
      value: {
        url: `https://hooks.stripe.com/3d_secure_2/hosted?payment_intent=${stripePaymentId}`,
        returnUrl: "https://shop.example.com/orders/4821/return",
      },
    },
  });
  return made;
}

function requiresCapture(): Payment {
  const made = payment(CaptureMethod.MANUAL, PaymentStatus.REQUIRES_CAPTURE, {
    attempt: AttemptStatus.REQUIRES_CAPTURE,
    updatedAfterSeconds: 1,
  });
  made.amountCapturable = 2500n;
  return made;
}

function declined(): Payment {
  const made = payment(CaptureMethod.AUTOMATIC, PaymentStatus.FAILED, { attempt: AttemptStatus.DECLINED, updatedAfterSeconds: 1 });
  made.providerPaymentId = "";
  for (const attempt of made.attempts) {
    if (attempt.provider === "stripe") {
      attempt.providerPaymentId = "";
      attempt.error = cardDeclined();
    }
  }
  made.error = cardDeclined();
  return made;
}

function refund(status: RefundStatus): Refund {
  const made = create(RefundSchema, {
    id: "re_01jd3m1a2b3c4d5e6f7g8h9j0k",
    paymentId,
    amount: 2500n,
    currency: "USD",
    status,
    reason: "requested_by_customer",
    provider: "stripe",
    providerRefundId: "re_3QbZ9kLkdIwHu7ix1Hs8Qp4N",
    metadata: { ticket: "SUP-1193" },
    createTime: at(3600),
    updateTime: at(3602),
  });
  if (status === RefundStatus.FAILED) {
    made.error = create(ProviderErrorSchema, {
      reason: "PROVIDER_DECLINED",
      message: "The card was closed before the refund reached it.",
      provider: "stripe",
      providerCode: "expired_or_canceled_card",
    });
  }
  return made;
}

function refunded(): Payment {
  const made = succeededPayment(CaptureMethod.AUTOMATIC, 3602);
  made.amountRefunded = 2500n;
  return made;
}

function sms(status: MessageStatus): Message {
  const made = create(MessageSchema, {
    id: "msg_01jd3n4p5q6r7s8t9v0w1x2y3z",
    environment: Environment.LIVE,
    channel: Channel.SMS,
    status,
    content: { case: "sms", value: { to: "+14155550100", from: "OneShop", body: "Your order #4821 has shipped." } },
    provider: "twilio",
    providerAccountId: "pa_01jd2za1b2c3d4e5f6g7h8j9k0",
    providerMessageId: "SM9f3c1e2d4b5a69788f7e6d5c4b3a2910",
    segments: 1,
    encoding: SmsEncoding.GSM7,
    country: "US",
    priceMicros: 7900n,
    priceCurrency: "USD",
    metadata: { order_id: "4821" },
    createTime: at(7200),
    updateTime: at(7201),
    sendTime: at(7201),
  });
  if (status === MessageStatus.DELIVERED) {
    made.updateTime = at(7204);
    made.deliverTime = at(7204);
  }
  if (status === MessageStatus.UNDELIVERED) {
    made.updateTime = at(7260);
    made.error = create(ProviderErrorSchema, {
      reason: "MESSAGE_UNDELIVERABLE",
      message: "The destination handset is unreachable.",
      provider: "twilio",
      providerCode: "30003",
    });
  }
  return made;
}

const paymentData = (made: Payment): Event["data"] => ({ case: "payment", value: create(PaymentEventDataSchema, { payment: made }) });
const refundData = (status: RefundStatus, made: Payment): Event["data"] => ({
  case: "refund",
  value: create(RefundEventDataSchema, { refund: refund(status), payment: made }),
});
const razorpayCircuit = (reason: string): Event["data"] => ({
  case: "providerAccount",
  value: create(ProviderAccountEventDataSchema, {
    providerAccountId: razorpayAccountId,
    provider: "razorpay",
    category: Category.PAYMENTS,
    reason,
    process: "onerouter-payments-7f9c4:1",
  }),
});
const messageData = (status: MessageStatus): Event["data"] => ({
  case: "message",
  value: create(MessageEventDataSchema, { message: sms(status) }),
});

export const testEventMessage = "This is a test event from OneRouter.";

// after: seconds from exampleTime to the event.
const aboutEventTypes: Record<
  Exclude<EventType, EventType.UNSPECIFIED>,
  { description: string; after: number; example: () => Event["data"] }
> = {
  [EventType.PAYMENT_CREATED]: {
    description: "A payment was created and is being sent to a provider.",
    after: 0,
    example: () => paymentData(payment(CaptureMethod.AUTOMATIC, PaymentStatus.PROCESSING)),
  },
  [EventType.PAYMENT_REQUIRES_ACTION]: {
    description: "The customer must complete a step, such as 3-D Secure or a provider checkout page; see next_action.",
    after: 1,
    example: () => paymentData(requiresAction()),
  },
  [EventType.PAYMENT_REQUIRES_CAPTURE]: {
    description: "A manual-capture payment was authorized and waits for CapturePayment.",
    after: 1,
    example: () => paymentData(requiresCapture()),
  },
  [EventType.PAYMENT_SUCCEEDED]: {
    description: "The payment's money was taken.",
    after: 1,
    example: () => paymentData(succeededPayment(CaptureMethod.AUTOMATIC, 1)),
  },
  [EventType.PAYMENT_FAILED]: {
    description: "No provider took the payment; error says why, e.g. a card decline.",
    after: 1,
    example: () => paymentData(declined()),
  },
  [EventType.PAYMENT_CANCELED]: {
    description: "The payment was canceled before its money was captured.",
    after: 900,
    example: () =>
      paymentData(
        payment(CaptureMethod.MANUAL, PaymentStatus.CANCELED, { attempt: AttemptStatus.REQUIRES_CAPTURE, updatedAfterSeconds: 900 }),
      ),
  },
  [EventType.PAYMENT_CAPTURED]: {
    description: "An authorized manual-capture payment was captured; payment.succeeded follows.",
    after: 900,
    example: () => paymentData(succeededPayment(CaptureMethod.MANUAL, 900)),
  },
  [EventType.REFUND_SUCCEEDED]: {
    description: "A refund was paid back to the customer.",
    after: 3602,
    example: () => refundData(RefundStatus.SUCCEEDED, refunded()),
  },
  [EventType.REFUND_FAILED]: {
    description: "The provider could not pay a refund back; error says why.",
    after: 3602,
    example: () => refundData(RefundStatus.FAILED, succeededPayment(CaptureMethod.AUTOMATIC, 3602)),
  },
  [EventType.MESSAGE_SENT]: {
    description: "A provider accepted a message for delivery.",
    after: 7201,
    example: () => messageData(MessageStatus.SENT),
  },
  [EventType.MESSAGE_DELIVERED]: {
    description: "The provider reported the message delivered to its recipient.",
    after: 7204,
    example: () => messageData(MessageStatus.DELIVERED),
  },
  [EventType.MESSAGE_FAILED]: {
    description: "The message was not delivered: no provider accepted it, or the carrier gave up on it.",
    after: 7260,
    example: () => messageData(MessageStatus.UNDELIVERED),
  },
  [EventType.WEBHOOK_ENDPOINT_DISABLED]: {
    description: "OneRouter stopped delivering to an endpoint whose deliveries kept failing; RecoverEndpoint resumes it.",
    after: 432000,
    example: () => ({
      case: "webhookEndpoint",
      value: create(WebhookEndpointEventDataSchema, {
        endpointId: "ep_01jd3p5q6r7s8t9v0w1x2y3z4a",
        url: "https://shop.example.com/webhooks/onerouter",
        reason: "every delivery failed for 5 days",
      }),
    }),
  },
  [EventType.WEBHOOK_TEST]: {
    description: "Sent by SendTestEvent to check that an endpoint receives and verifies deliveries.",
    after: 60,
    example: () => ({ case: "test", value: create(TestEventDataSchema, { message: testEventMessage }) }),
  },
  [EventType.USAGE_THRESHOLD_REACHED]: {
    description: "The tenant's use of a monthly plan quota reached 80 % or 100 %; sent once per threshold and billing period.",
    after: 86_400,
    example: () => ({
      case: "usage",
      value: create(UsageEventDataSchema, {
        metric: "api_requests",
        thresholdPercent: 80,
        used: 800n,
        limit: 1000n,
        planId: "free",
        periodStartTime: timestampFromDate(new Date("2026-11-01T00:00:00Z")),
      }),
    }),
  },
  [EventType.PROVIDER_ACCOUNT_CIRCUIT_OPENED]: {
    description:
      "A process stopped sending calls to a provider account after consecutive calls it did not answer (refused, failed or timed out); after a cooldown a health check probes it, and no new call goes to it until that check succeeds. Circuit breakers are per process, so each OneRouter process that sees the outage sends its own event, named in process.",
    after: 0,
    example: () => razorpayCircuit("5 consecutive calls the provider did not answer"),
  },
  [EventType.PROVIDER_ACCOUNT_CIRCUIT_CLOSED]: {
    description:
      "A process's circuit for a provider account closed again: a call or a health probe was answered. Like circuit_opened, sent by each process whose circuit closes.",
    after: 300,
    example: () => razorpayCircuit("the provider answered a call again"),
  },
  [EventType.PRICING_CHANGED]: {
    description:
      "A price a provider publishes through its pricing API moved by at least the configured threshold since the last price recorded; cheapest routing uses it from now on.",
    after: 10_800,
    example: () => ({
      case: "pricing",
      value: create(PricingEventDataSchema, {
        providerAccountId: "pa_01jd2za1b2c3d4e5f6g7h8j9k0",
        provider: "twilio",
        country: "GB",
        currency: "USD",
        previousPriceMicros: 46_300n,
        priceMicros: 52_000n,
        changePercent: 12.311015118790497,
      }),
    }),
  },
};

export const eventTypes: ListedEventType[] = [...eventTypeNames].map(([type, name], i) => {
  const { description, after, example } = aboutEventTypes[type as keyof typeof aboutEventTypes];
  return create(ListedEventTypeSchema, {
    name,
    description,
    exampleJson: toJsonString(
      EventSchema,
      create(EventSchema, {
        // Distinct example ids shaped like real ones: evt_ and 26 base32 characters.
        id: `evt_01jd3k7m5d7e9f1g3h5j7k9m${i.toString(32).padStart(2, "0")}`,
        type: name,
        tenantId,
        environment: Environment.LIVE,
        createTime: at(after),
        data: example(),
      }),
      { prettySpaces: 2 },
    ),
  });
});

const knownNames = new Set(eventTypeNames.values());

// "payment.succeeded" or "payment.*": the forms endpoint filters and event
// listing accept. A prefix must name at least one known type.
export function isKnownEventTypeFilter(filter: string): boolean {
  if (!filter.endsWith(".*")) return knownNames.has(filter);
  const prefix = filter.slice(0, -1);
  return prefix.length > 1 && [...knownNames].some((name) => name.startsWith(prefix));
}
