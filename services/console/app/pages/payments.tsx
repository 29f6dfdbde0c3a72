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
import { AttemptTimeline } from "../attempt-timeline";
import { PermittedButton, useSession } from "../session";
import {
  Confirm,
  DetailPage,
  enumLabel,
  EnumFilter,
  ErrorState,
  Facts,
  FindById,
  formatMoney,
  formatTime,
  Loaded,
  Page,
  PagedTable,
  parseMoney,
  ProviderErrorText,
  StatusBadge,
  type Fact,
} from "../ui";

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
          <PagedTable headings={["Payment", "Amount", "Status", "Provider", "Attempts", "Created"]} nextPageToken={data.nextPageToken}>
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
          </PagedTable>
        )}
      </Loaded>
    </Page>
  );
}

type PendingAction = "capture" | "cancel" | "refund" | undefined;

function PaymentDetail({ id }: { id: string }) {
  const got = useQuery(PaymentService.method.getPayment, { id });
  const list = { section: "payments", label: "All payments" };
  return (
    <DetailPage title={`Payment ${id}`} list={list} query={got} what="the payment" object={(data) => data.payment}>
      {(payment) => <PaymentView payment={payment} />}
    </DetailPage>
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
      <Facts
        facts={[
          ["Amount", formatMoney(payment.amount, payment.currency)],
          ["Status", <StatusBadge label={enumLabel(PaymentStatus, payment.status)} />],
          ["Provider", payment.provider || "—"],
          ["Captured", formatMoney(payment.amountCaptured, payment.currency)],
          ["Refunded", formatMoney(payment.amountRefunded, payment.currency)],
          ["Customer", payment.customer?.email || payment.customer?.id || "—"],
          ["Created", formatTime(payment.createTime)],
          payment.error && ["Error", <ProviderErrorText error={payment.error} />],
        ]}
      />
      <div className="actions">
        {payment.status === PaymentStatus.REQUIRES_CAPTURE && (
          <PermittedButton method={PaymentService.method.capturePayment} className="primary" onClick={() => setPending("capture")}>
            Capture
          </PermittedButton>
        )}
        {(payment.status === PaymentStatus.REQUIRES_CAPTURE || payment.status === PaymentStatus.REQUIRES_ACTION) && (
          <PermittedButton method={PaymentService.method.cancelPayment} className="danger" onClick={() => setPending("cancel")}>
            Cancel
          </PermittedButton>
        )}
        {refundable > 0n && (
          <PermittedButton method={PaymentService.method.refundPayment} onClick={() => setPending("refund")}>
            Refund
          </PermittedButton>
        )}
      </div>
      {failed && <ErrorState error={failed} />}

      <h2>Attempts</h2>
      <AttemptTimeline
        attempts={payment.attempts.map((attempt) => ({
          ...attempt,
          status: enumLabel(AttemptStatus, attempt.status),
          facts: [
            ["Estimated fee", formatMoney(attempt.estimatedFee, payment.currency)],
            ...(attempt.providerPaymentId ? [["Provider's id", <code>{attempt.providerPaymentId}</code>] satisfies Fact] : []),
          ],
        }))}
      />

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
