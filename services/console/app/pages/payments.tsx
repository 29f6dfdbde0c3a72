import { useMutation, useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import {
  AttemptStatus,
  PaymentService,
  PaymentStatus,
  type Payment,
} from "@onerouter/client/gen/onerouter/payments/v1/payments_pb";
import { useState } from "react";
import { Link, setQuery, useLocation } from "../router";
import { Permitted, useSession } from "../session";
import { Confirm, Empty, enumLabel, ErrorState, formatDuration, formatMoney, formatTime, FindById, EnumFilter, Loaded, NextPage, Page, parseMoney, StatusBadge, Table } from "../ui";

export default function Payments({ params }: { params: string[] }) {
  return params[0] ? <PaymentDetail id={params[0]} /> : <PaymentList />;
}

function PaymentList() {
  const { environment } = useSession();
  const { query } = useLocation();
  const status = Number(query.get("status") ?? 0);
  const provider = query.get("provider") ?? "";
  const pageToken = query.get("page") ?? "";
  const list = useQuery(PaymentService.method.listPayments, { pageSize: 25, status, provider, pageToken });
  return (
    <Page title="Payments">
      <div className="filters">
        <FindById label="Payment id" placeholder="pay_…" pathOf={(id) => `/${environment}/payments/${id}`} />
        <EnumFilter label="Status" enumObject={PaymentStatus} value={status} name="status" />
        <label>
          Provider
          <input value={provider} placeholder="any" onChange={(e) => setQuery({ provider: e.target.value, page: undefined })} />
        </label>
      </div>
      <Loaded
        query={list}
        what="payments"
        isEmpty={(data) => data.payments.length === 0}
        empty={`No payments${status || provider ? " match these filters" : ` in ${environment} yet`}.`}
      >
        {(data) => (
          <>
            <Table headings={["Payment", "Amount", "Status", "Provider", "Attempts", "Created"]}>
              {data.payments.map((payment) => (
                <tr key={payment.id}>
                  <td>
                    <Link to={`/${environment}/payments/${payment.id}`}>{payment.id}</Link>
                  </td>
                  <td className="num">{formatMoney(payment.amount, payment.currency)}</td>
                  <td>
                    <StatusBadge label={enumLabel(PaymentStatus, payment.status)} />
                  </td>
                  <td>{payment.provider || "—"}</td>
                  <td className="num">{payment.attempts.length}</td>
                  <td>{formatTime(payment.createTime)}</td>
                </tr>
              ))}
            </Table>
            <NextPage token={data.nextPageToken} />
          </>
        )}
      </Loaded>
    </Page>
  );
}

type PendingAction = "capture" | "cancel" | "refund" | undefined;

function PaymentDetail({ id }: { id: string }) {
  const { environment } = useSession();
  const payment = useQuery(PaymentService.method.getPayment, { id });
  return (
    <Page title={`Payment ${id}`} actions={<Link to={`/${environment}/payments`}>All payments</Link>}>
      <Loaded query={payment} what="the payment" isEmpty={(data) => !data.payment} empty="No such payment.">
        {(data) => <PaymentView payment={data.payment!} />}
      </Loaded>
    </Page>
  );
}

function PaymentView({ payment }: { payment: Payment }) {
  const [pending, setPending] = useState<PendingAction>();
  const [refundAmount, setRefundAmount] = useState("");
  const queryClient = useQueryClient();
  const done = {
    onSuccess: () => {
      setPending(undefined);
      void queryClient.invalidateQueries();
    },
  };
  const capture = useMutation(PaymentService.method.capturePayment, done);
  const cancel = useMutation(PaymentService.method.cancelPayment, done);
  const refund = useMutation(PaymentService.method.refundPayment, done);
  const failed = capture.error ?? cancel.error ?? refund.error;
  const refundable = payment.amountCaptured - payment.amountRefunded;
  const refundMinor = refundAmount ? parseMoney(refundAmount, payment.currency) : refundable;

  return (
    <>
      <dl className="facts">
        <dt>Amount</dt>
        <dd>{formatMoney(payment.amount, payment.currency)}</dd>
        <dt>Status</dt>
        <dd>
          <StatusBadge label={enumLabel(PaymentStatus, payment.status)} />
        </dd>
        <dt>Provider</dt>
        <dd>{payment.provider || "—"}</dd>
        <dt>Captured</dt>
        <dd>{formatMoney(payment.amountCaptured, payment.currency)}</dd>
        <dt>Refunded</dt>
        <dd>{formatMoney(payment.amountRefunded, payment.currency)}</dd>
        <dt>Customer</dt>
        <dd>{payment.customer?.email || payment.customer?.id || "—"}</dd>
        <dt>Created</dt>
        <dd>{formatTime(payment.createTime)}</dd>
        {payment.error && (
          <>
            <dt>Error</dt>
            <dd>
              {payment.error.message} <code>{payment.error.reason}</code>
            </dd>
          </>
        )}
      </dl>
      <div className="actions">
        {payment.status === PaymentStatus.REQUIRES_CAPTURE && (
          <Permitted method={PaymentService.method.capturePayment}>
            <button type="button" className="primary" onClick={() => setPending("capture")}>
              Capture
            </button>
          </Permitted>
        )}
        {(payment.status === PaymentStatus.REQUIRES_CAPTURE || payment.status === PaymentStatus.REQUIRES_ACTION) && (
          <Permitted method={PaymentService.method.cancelPayment}>
            <button type="button" className="danger" onClick={() => setPending("cancel")}>
              Cancel
            </button>
          </Permitted>
        )}
        {refundable > 0n && (
          <Permitted method={PaymentService.method.refundPayment}>
            <button type="button" onClick={() => setPending("refund")}>
              Refund
            </button>
          </Permitted>
        )}
      </div>
      {failed && <ErrorState error={failed} />}

      <h2>Attempts</h2>
      <AttemptTimeline payment={payment} />

      {pending === "capture" && (
        <Confirm
          title="Capture this payment?"
          confirmLabel={`Capture ${formatMoney(payment.amountCapturable || payment.amount, payment.currency)}`}
          busy={capture.isPending}
          onCancel={() => setPending(undefined)}
          onConfirm={() => capture.mutate({ id: payment.id })}
        >
          <p>The customer is charged now.</p>
        </Confirm>
      )}
      {pending === "cancel" && (
        <Confirm
          title="Cancel this payment?"
          confirmLabel="Cancel payment"
          danger
          busy={cancel.isPending}
          onCancel={() => setPending(undefined)}
          onConfirm={() => cancel.mutate({ id: payment.id })}
        >
          <p>The authorization is released; this cannot be undone.</p>
        </Confirm>
      )}
      {pending === "refund" && (
        <Confirm
          title="Refund this payment?"
          confirmLabel={refundMinor === undefined ? "Refund" : `Refund ${formatMoney(refundMinor, payment.currency)}`}
          danger
          busy={refund.isPending || refundMinor === undefined}
          onCancel={() => setPending(undefined)}
          onConfirm={() => refundMinor !== undefined && refund.mutate({ paymentId: payment.id, amount: refundMinor })}
        >
          <label>
            Amount ({payment.currency}), at most {formatMoney(refundable, payment.currency)}
            <input value={refundAmount} inputMode="decimal" placeholder="all that is left" onChange={(e) => setRefundAmount(e.target.value)} />
          </label>
        </Confirm>
      )}
    </>
  );
}

// Every provider call in order: which account, how long, what it cost and
// why the next one was tried.
function AttemptTimeline({ payment }: { payment: Payment }) {
  if (payment.attempts.length === 0) return <Empty>No provider was called.</Empty>;
  return (
    <ol className="timeline" aria-label="Attempts">
      {payment.attempts.map((attempt, index) => {
        const next = payment.attempts[index + 1];
        return (
          <li key={attempt.id} className={`attempt attempt-${enumLabel(AttemptStatus, attempt.status).replaceAll(" ", "-")}`}>
            <div className="attempt-head">
              <strong>{attempt.provider}</strong> <StatusBadge label={enumLabel(AttemptStatus, attempt.status)} />
              <span className="muted">{formatTime(attempt.createTime)}</span>
            </div>
            <dl className="facts compact">
              <dt>Attempt</dt>
              <dd>
                <code>{attempt.id}</code>
              </dd>
              <dt>Account</dt>
              <dd>
                <code>{attempt.providerAccountId}</code>
              </dd>
              <dt>Latency</dt>
              <dd>{formatDuration(attempt.latency)}</dd>
              <dt>Estimated fee</dt>
              <dd>{formatMoney(attempt.estimatedFee, payment.currency)}</dd>
              {attempt.providerPaymentId && (
                <>
                  <dt>Provider's id</dt>
                  <dd>
                    <code>{attempt.providerPaymentId}</code>
                  </dd>
                </>
              )}
              {attempt.error && (
                <>
                  <dt>Error</dt>
                  <dd>
                    {attempt.error.message} <code>{attempt.error.reason}</code> {attempt.error.providerCode && <code>{attempt.error.providerCode}</code>}
                  </dd>
                </>
              )}
            </dl>
            {next && (
              <p className="failover">
                Failed over to <strong>{next.provider}</strong>
                {attempt.error ? `: ${attempt.error.message}` : ""}
              </p>
            )}
          </li>
        );
      })}
    </ol>
  );
}
