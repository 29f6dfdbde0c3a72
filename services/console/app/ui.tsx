import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { Duration } from "@bufbuild/protobuf/wkt";
import { ConnectError } from "@connectrpc/connect";
import type { UseQueryResult } from "@tanstack/react-query";
import { errorInfo } from "@onerouter/client";
import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from "react";
import { navigate, setQuery } from "./router";

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
  const format = new Intl.NumberFormat("en", { style: "currency", currency });
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  return format.format(Number(amount) / 10 ** digits);
}

// Parses "25.00" in `currency` to minor units; undefined when it is not a number.
export function parseMoney(text: string, currency: string): bigint | undefined {
  if (!/^\d+(\.\d+)?$/.test(text.trim())) return undefined;
  const digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
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
        {values.map((v) => (
          <option key={v} value={v}>
            {enumLabel(enumObject, v)}
          </option>
        ))}
      </select>
    </label>
  );
}
