import type { EmulatorReply, EmulatorRequest } from "@onerouter/sandbox";
import type { PaypalAccount } from "./account";
import { fail } from "./errors";
import { fromLowestUnit, link, timestamp, toLowestUnit, type Money } from "./resources";

// Transaction Search: GET /v1/reporting/transactions over the account's
// captures, authorizations and refunds.

const maxSearchRangeMs = 31 * 24 * 3600_000;

interface TransactionRow {
  info: Record<string, unknown>;
  initiatedAt: number;
  amount: Money;
  balanceAffecting: boolean;
}

export function searchTransactions(account: PaypalAccount, api: string, req: EmulatorRequest): EmulatorReply {
  const query = req.query;
  const range: number[] = [];
  for (const name of ["start_date", "end_date"]) {
    const value = query.get(name);
    if (!value) {
      fail("INVALID_REQUEST", { issue: "MISSING_REQUIRED_PARAMETER", description: `${name} is required.`, field: name, location: "query" });
    }
    const time = Date.parse(value);
    if (!Number.isFinite(time)) {
      fail("INVALID_REQUEST", { issue: "INVALID_PARAMETER_SYNTAX", description: `${name} is not an Internet date and time.`, field: name, location: "query" });
    }
    range.push(time);
  }
  const [start = 0, end = 0] = range;
  if (end < start || end - start > maxSearchRangeMs) {
    fail("INVALID_REQUEST", { issue: "INVALID_DATE_RANGE", description: "The date range must be at most 31 days.", field: "end_date", location: "query" });
  }
  // transaction_amount is "[<low> TO <high>]" in the currency's lowest denomination.
  const amountRange = /^\[\s*(-?\d+)\s+TO\s+(-?\d+)\s*\]$/.exec(query.get("transaction_amount") ?? "");
  if (query.has("transaction_amount") && !amountRange) {
    fail("INVALID_REQUEST", { issue: "INVALID_PARAMETER_SYNTAX", description: "transaction_amount must be [<start> TO <end>].", field: "transaction_amount", location: "query" });
  }
  const currency = query.get("transaction_currency");
  const transactionId = query.get("transaction_id");
  const balanceOnly = (query.get("balance_affecting_records_only") ?? "Y") === "Y";
  const matching = transactionRows(account).filter((row) => {
    if (row.initiatedAt < start || row.initiatedAt > end) return false;
    if (balanceOnly && !row.balanceAffecting) return false;
    if (currency && row.amount.currency_code !== currency) return false;
    if (transactionId && row.info.transaction_id !== transactionId) return false;
    if (amountRange) {
      const units = toLowestUnit(row.amount);
      if (units < BigInt(amountRange[1] ?? "0") || units > BigInt(amountRange[2] ?? "0")) return false;
    }
    return true;
  });
  const pageSize = Math.min(Math.max(Number(query.get("page_size") ?? 100) || 100, 1), 500);
  const page = Math.max(Number(query.get("page") ?? 1) || 1, 1);
  const totalPages = Math.max(1, Math.ceil(matching.length / pageSize));
  return {
    status: 200,
    body: {
      transaction_details: matching.slice((page - 1) * pageSize, page * pageSize).map((row) => ({ transaction_info: row.info })),
      account_number: "EMULATEDMERCHANT",
      start_date: timestamp(new Date(start)),
      end_date: timestamp(new Date(end)),
      last_refreshed_datetime: timestamp(),
      page,
      total_items: matching.length,
      total_pages: totalPages,
      links: [link(`${api}${req.path}?${query.toString()}`, "self")],
    },
  };
}

function transactionRows(account: PaypalAccount): TransactionRow[] {
  const rows: TransactionRow[] = [];
  const statusCode = { COMPLETED: "S", DECLINED: "D", PARTIALLY_REFUNDED: "F", REFUNDED: "V" } as const;
  for (const c of account.captures.values()) {
    rows.push({
      info: {
        transaction_id: c.id,
        transaction_event_code: "T0006",
        transaction_initiation_date: c.createTime,
        transaction_updated_date: c.updateTime,
        transaction_amount: c.amount,
        transaction_status: statusCode[c.status],
        invoice_id: c.invoiceId,
        custom_field: c.customId,
        protection_eligibility: "02",
      },
      initiatedAt: Date.parse(c.createTime),
      amount: c.amount,
      balanceAffecting: c.status !== "DECLINED",
    });
  }
  for (const a of account.authorizations.values()) {
    rows.push({
      info: {
        transaction_id: a.id,
        transaction_event_code: "T1300",
        transaction_initiation_date: a.createTime,
        transaction_updated_date: a.updateTime,
        transaction_amount: a.amount,
        transaction_status: a.status === "DENIED" ? "D" : a.status === "VOIDED" ? "V" : "S",
        invoice_id: a.invoiceId,
        custom_field: a.customId,
      },
      initiatedAt: Date.parse(a.createTime),
      amount: a.amount,
      balanceAffecting: false,
    });
  }
  for (const r of account.refunds.values()) {
    const amount = fromLowestUnit(-toLowestUnit(r.amount), r.amount.currency_code);
    rows.push({
      info: {
        transaction_id: r.id,
        paypal_reference_id: r.captureId,
        paypal_reference_id_type: "TXN",
        transaction_event_code: "T1107",
        transaction_initiation_date: r.createTime,
        transaction_updated_date: r.updateTime,
        transaction_amount: amount,
        transaction_status: "S",
        custom_field: r.customId,
      },
      initiatedAt: Date.parse(r.createTime),
      amount,
      balanceAffecting: true,
    });
  }
  return rows.sort((x, y) => x.initiatedAt - y.initiatedAt);
}
