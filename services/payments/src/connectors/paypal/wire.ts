// The parts of PayPal's REST wire format (Orders v2, Payments v2, Transaction
// Search v1, Notifications v1) this connector reads and writes, in PayPal's
// own snake_case field names.

export interface PaypalMoney {
  currency_code: string;
  value: string;
}

export interface PaypalLink {
  href: string;
  rel: string;
  method?: string;
}

export interface PaypalProcessorResponse {
  avs_code?: string;
  cvv_code?: string;
  response_code?: string;
  payment_advice_code?: string;
}

export interface PaypalRelatedIds {
  order_id?: string;
  authorization_id?: string;
  capture_id?: string;
}

export type PaypalCaptureStatus = "COMPLETED" | "DECLINED" | "PARTIALLY_REFUNDED" | "PENDING" | "REFUNDED" | "FAILED";

export interface PaypalCapture {
  id: string;
  status: PaypalCaptureStatus;
  amount?: PaypalMoney;
  final_capture?: boolean;
  custom_id?: string;
  invoice_id?: string;
  processor_response?: PaypalProcessorResponse;
  supplementary_data?: { related_ids?: PaypalRelatedIds };
  links?: PaypalLink[];
}

export type PaypalAuthorizationStatus = "CREATED" | "CAPTURED" | "DENIED" | "PARTIALLY_CAPTURED" | "VOIDED" | "PENDING";

export interface PaypalAuthorization {
  id: string;
  status: PaypalAuthorizationStatus;
  amount?: PaypalMoney;
  custom_id?: string;
  processor_response?: PaypalProcessorResponse;
  supplementary_data?: { related_ids?: PaypalRelatedIds };
  links?: PaypalLink[];
}

export type PaypalRefundStatus = "CANCELLED" | "FAILED" | "PENDING" | "COMPLETED";

export interface PaypalRefund {
  id: string;
  status: PaypalRefundStatus;
  amount?: PaypalMoney;
  custom_id?: string;
  links?: PaypalLink[];
}

export type PaypalOrderStatus = "CREATED" | "SAVED" | "APPROVED" | "VOIDED" | "COMPLETED" | "PAYER_ACTION_REQUIRED";

export interface PaypalPurchaseUnit {
  reference_id?: string;
  custom_id?: string;
  invoice_id?: string;
  description?: string;
  amount: PaypalMoney;
  payments?: {
    authorizations?: PaypalAuthorization[];
    captures?: PaypalCapture[];
    refunds?: PaypalRefund[];
  };
}

export interface PaypalOrder {
  id: string;
  intent: "CAPTURE" | "AUTHORIZE";
  status: PaypalOrderStatus;
  purchase_units: PaypalPurchaseUnit[];
  links?: PaypalLink[];
}

export interface PaypalCreateOrderRequest {
  intent: "CAPTURE" | "AUTHORIZE";
  purchase_units: Array<{
    reference_id: string;
    custom_id: string;
    description?: string;
    amount: PaypalMoney;
  }>;
  payment_source?: {
    card?: { vault_id: string };
    paypal?: {
      email_address?: string;
      experience_context: { return_url: string; cancel_url: string };
    };
  };
}

export interface PaypalCaptureAuthorizationRequest {
  amount: PaypalMoney;
  final_capture: boolean;
}

export interface PaypalRefundRequest {
  amount: PaypalMoney;
  custom_id: string;
  note_to_payer?: string;
}

export interface PaypalAccessToken {
  access_token: string;
  token_type: string;
  expires_in: number;
}

// PayPal's error body on v1/v2 REST resources.
export interface PaypalErrorBody {
  name?: string;
  message?: string;
  debug_id?: string;
  details?: Array<{ issue?: string; description?: string; field?: string }>;
}

// The OAuth2 token endpoint answers errors in RFC 6749 shape instead.
export interface PaypalOAuthErrorBody {
  error?: string;
  error_description?: string;
}

export interface PaypalTransactionSearchResponse {
  transaction_details?: Array<{
    transaction_info?: {
      transaction_id?: string;
      transaction_event_code?: string;
      custom_field?: string;
    };
  }>;
  page?: number;
  total_pages?: number;
}

export interface PaypalVerifyWebhookSignatureResponse {
  verification_status: "SUCCESS" | "FAILURE";
}

export interface PaypalWebhookEvent {
  id: string;
  event_type: string;
  resource_type?: string;
  resource?: unknown;
}
