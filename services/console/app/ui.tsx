import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { Duration } from "@bufbuild/protobuf/wkt";
import { ConnectError } from "@connectrpc/connect";
import type { UseQueryResult } from "@tanstack/react-query";
import { errorInfo } from "@onerouter/client";
import { Fragment, useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from "react";
import type { ProviderError } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { currencyDigits } from "./money";
import { Link, navigate, setQuery } from "./router";
import { useSession } from "./session";

// The pieces every page shares: its loading, empty and error states, a
// confirmation step before anything that moves money or cannot be undone,
// and formatting of money, times and durations.

export function Loading({ what }: { what: string }) {
  return (
    <p className="state" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="state empty">{children}</p>;
}

export function describeError(error: unknown): { message: string; reason?: string } {
  if (error instanceof ConnectError) {
    return { message: error.rawMessage || error.message, reason: errorInfo(error)?.reason };
  }
  return { message: error instanceof Error ? error.message : String(error) };
}

export function ErrorState({ error, what }: { error: unknown; what?: string }) {
  const { message, reason } = describeError(error);
  return (
    <div className="error" role="alert">
      <strong>{what ? `Could not load ${what}` : "That did not work"}:</strong> {message}
      {reason && <code className="reason">{reason}</code>}
    </div>
  );
}

export function Page({ title, actions, children }: { title: string; actions?: ReactNode; children: ReactNode }) {
  useEffect(() => {
    document.title = `${title} · OneRouter`;
  }, [title]);
  return (
    <section className="page" aria-labelledby="page-title">
      <header className="page-header">
        <h1 id="page-title">{title}</h1>
        {actions && <div className="actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}

// An object's own page: its title, a link back to its list (a section of
// the console, in the environment shown), and the object once it has
// loaded (or why it has not).
export function DetailPage<T, O>({
  title,
  list,
  query,
  what,
  object,
  children,
}: {
  title: string;
  list: { section: string; label: string };
  query: UseQueryResult<T, ConnectError>;
  what: string;
  object: (data: T) => O | undefined;
  children: (object: O) => ReactNode;
}) {
  const { environment } = useSession();
  return (
    <Page title={title} actions={<Link to={`/${environment}/${list.section}`}>{list.label}</Link>}>
      <Loaded query={query} what={what} isEmpty={(data) => object(data) === undefined} empty={`No such ${what.replace(/^the /, "")}.`}>
        {(data) => children(object(data)!)}
      </Loaded>
    </Page>
  );
}

// A list of facts about an object; a fact whose value is absent is left out.
export type Fact = [label: string, value: ReactNode];
export function Facts({ facts, compact }: { facts: (Fact | false | undefined)[]; compact?: boolean }) {
  return (
    <dl className={compact ? "facts compact" : "facts"}>
      {facts
        .filter((fact): fact is Fact => Boolean(fact))
        .map(([label, value]) => (
          <Fragment key={label}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </Fragment>
        ))}
    </dl>
  );
}

// A provider's error as people read it: its message, OneRouter's reason and the provider's own code.
export function ProviderErrorText({ error }: { error: ProviderError }) {
  return (
    <>
      {error.message} <code>{error.reason}</code> {error.providerCode && <code>{error.providerCode}</code>}
    </>
  );
}

// A modal that asks before an action; Escape or Cancel closes it.
export function Confirm({
  title,
  children,
  confirmLabel,
  danger,
  busy,
  onConfirm,
  onCancel,
}: {
  title: string;
  children?: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
  }, []);
  return (
    <dialog ref={ref} aria-labelledby={titleId} onCancel={onCancel} className="dialog">
      <h2 id={titleId}>{title}</h2>
      {children}
      <div className="dialog-actions">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="button" className={danger ? "danger" : "primary"} disabled={busy} onClick={onConfirm}>
          {confirmLabel}
        </button>
      </div>
    </dialog>
  );
}

export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      className="copy"
      onClick={() => {
        void navigator.clipboard?.writeText(text).then(() => setCopied(true), () => setCopied(false));
      }}
    >
      {copied ? "Copied" : label}
    </button>
  );
}

// Amounts travel in the currency's minor unit; Intl knows each currency's exponent.
export function formatMoney(amount: bigint, currency: string): string {
  if (!currency) return amount.toString();
  return new Intl.NumberFormat("en", { style: "currency", currency }).format(Number(amount) / 10 ** currencyDigits(currency));
}

// Costs and fees travel in millionths of the currency's major unit.
export function formatMicros(micros: bigint, currency: string): string {
  return new Intl.NumberFormat("en", { style: "currency", currency, maximumFractionDigits: 4 }).format(Number(micros) / 1e6);
}

// Parses "25.00" in `currency` to minor units; undefined when it is not a number.
export function parseMoney(text: string, currency: string): bigint | undefined {
  if (!/^\d+(\.\d+)?$/.test(text.trim())) return undefined;
  const digits = currencyDigits(currency);
  const [whole, fraction = ""] = text.trim().split(".");
  if (fraction.length > digits) return undefined;
  return BigInt(whole!) * 10n ** BigInt(digits) + BigInt(fraction.padEnd(digits, "0") || "0");
}

export function formatTime(time: Timestamp | undefined): string {
  if (!time) return "—";
  return timestampDate(time).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

export function formatDuration(duration: Duration | undefined): string {
  if (!duration) return "—";
  const ms = Number(duration.seconds) * 1000 + duration.nanos / 1e6;
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

// A rate from 0 to 1 as a percentage.
export function formatPercent(rate: number): string {
  return `${(rate * 100).toFixed(1)}%`;
}

// An enum value's name in lower case: PaymentStatus.REQUIRES_CAPTURE → "requires capture".
export function enumLabel(enumObject: Record<string | number, string | number>, value: number): string {
  const name = enumObject[value];
  return typeof name === "string" ? name.toLowerCase().replaceAll("_", " ") : "unspecified";
}

export function StatusBadge({ label }: { label: string }) {
  return <span className={`badge badge-${label.replaceAll(" ", "-")}`}>{label}</span>;
}

// A query's three states before its content: loading, failed, and empty
// (when `isEmpty` says so); the content renders only from an answer.
export function Loaded<T>({
  query,
  what,
  isEmpty,
  empty,
  children,
}: {
  query: UseQueryResult<T, ConnectError>;
  what: string;
  isEmpty?: (data: T) => boolean;
  empty?: ReactNode;
  children: (data: T) => ReactNode;
}) {
  if (query.isPending) return <Loading what={what} />;
  if (query.error) return <ErrorState error={query.error} what={what} />;
  if (isEmpty?.(query.data)) return <Empty>{empty}</Empty>;
  return <>{children(query.data)}</>;
}

// A table with a header row; an empty heading names an actions column for screen readers.
export function Table({ headings, children }: { headings: string[]; children: ReactNode }) {
  return (
    <table>
      <thead>
        <tr>
          {headings.map((heading, i) => (
            <th key={i} scope="col">
              {heading || <span className="visually-hidden">Actions</span>}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>{children}</tbody>
    </table>
  );
}

// One page of a long list, with the way to the next.
export function PagedTable({ headings, nextPageToken, children }: { headings: string[]; nextPageToken: string; children: ReactNode }) {
  return (
    <>
      <Table headings={headings}>{children}</Table>
      <NextPage token={nextPageToken} />
    </>
  );
}

// The next page of a list: its token goes in the URL, so a page can be shared.
export function NextPage({ token }: { token: string }) {
  if (!token) return null;
  return (
    <button type="button" onClick={() => setQuery({ page: token })}>
      Next page
    </button>
  );
}

// A search box that opens the object with the id typed, at its own URL.
export function FindById({ label, placeholder, pathOf }: { label: string; placeholder: string; pathOf: (id: string) => string }) {
  const [search, setSearch] = useState("");
  const find = (event: FormEvent) => {
    event.preventDefault();
    if (search.trim()) navigate(pathOf(encodeURIComponent(search.trim())));
  };
  return (
    <form onSubmit={find} role="search" className="inline">
      <label>
        {label}
        <input value={search} placeholder={placeholder} onChange={(e) => setSearch(e.target.value)} />
      </label>
      <button type="submit">Find</button>
    </form>
  );
}

// A choice among an enum's values (or any), kept in the URL's `name` parameter.
export function EnumFilter({ label, enumObject, value, name }: { label: string; enumObject: Record<string, string | number>; value: number; name: string }) {
  const values = Object.values(enumObject).filter((v): v is number => typeof v === "number" && v !== 0);
  return (
    <label>
      {label}
      <select value={value} onChange={(e) => setQuery({ [name]: e.target.value === "0" ? undefined : e.target.value, page: undefined })}>
        <option value={0}>any</option>
        <EnumOptions enumObject={enumObject} values={values} />
      </select>
    </label>
  );
}

// The options of a select among some of an enum's values, named as people read them.
export function EnumOptions({ enumObject, values }: { enumObject: Record<string | number, string | number>; values: readonly number[] }) {
  return (
    <>
      {values.map((v) => (
        <option key={v} value={v}>
          {enumLabel(enumObject, v)}
        </option>
      ))}
    </>
  );
}
