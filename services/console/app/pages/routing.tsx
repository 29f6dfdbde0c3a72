import { useMutation, useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { create } from "@bufbuild/protobuf";
import { ProviderAccountService } from "@onerouter/client/gen/onerouter/admin/v1/provider_accounts_pb";
import { RoutingProfileSchema, RoutingService, RoutingStrategy, type RoutingProfile } from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { useState } from "react";
import { previewRoute } from "../routing-preview";
import { CategoryPicker, useCategory } from "../pickers";
import { Permitted } from "../session";
import { Empty, enumLabel, ErrorState, formatMoney, Loading, Page, parseMoney } from "../ui";

const strategies = [RoutingStrategy.PRIORITY, RoutingStrategy.WEIGHTED, RoutingStrategy.CHEAPEST, RoutingStrategy.SUCCESS_RATE];

export default function Routing() {
  const category = useCategory();
  const profile = useQuery(RoutingService.method.getRoutingProfile, { category });
  const accounts = useQuery(ProviderAccountService.method.listProviderAccounts, { pageSize: 100, category });
  return (
    <Page
      title="Routing"
      actions={
        <CategoryPicker value={category} />
      }
    >
      {profile.isPending || accounts.isPending ? (
        <Loading what="the routing profile" />
      ) : profile.error ?? accounts.error ? (
        <ErrorState error={profile.error ?? accounts.error} what="the routing profile" />
      ) : (
        <Editor
          key={category}
          saved={profile.data.routingProfile ?? create(RoutingProfileSchema, { category })}
          accountNames={new Map(accounts.data.providerAccounts.map((a) => [a.id, `${a.displayName || a.provider} (${a.provider})`]))}
        />
      )}
    </Page>
  );
}

function Editor({ saved, accountNames }: { saved: RoutingProfile; accountNames: Map<string, string> }) {
  const [draft, setDraft] = useState(() => create(RoutingProfileSchema, saved));
  const queryClient = useQueryClient();
  const update = useMutation(RoutingService.method.updateRoutingProfile, { onSuccess: () => void queryClient.invalidateQueries() });
  const change = (edit: (profile: RoutingProfile) => void) => {
    const next = create(RoutingProfileSchema, draft);
    edit(next);
    setDraft(next);
  };
  const unused = [...accountNames.keys()].filter((id) => !draft.targets.some((t) => t.providerAccountId === id));
  const move = (from: number, to: number) =>
    change((p) => {
      const [target] = p.targets.splice(from, 1);
      p.targets.splice(to, 0, target!);
    });
  return (
    <>
      <div className="card">
        <label>
          Strategy
          <select value={draft.strategy} onChange={(e) => change((p) => (p.strategy = Number(e.target.value)))}>
            {strategies.map((s) => (
              <option key={s} value={s}>
                {enumLabel(RoutingStrategy, s)}
              </option>
            ))}
          </select>
        </label>
        <label className="check">
          <input type="checkbox" checked={draft.failoverOnDecline} onChange={(e) => change((p) => (p.failoverOnDecline = e.target.checked))} /> Fail
          over on a decline too
        </label>
        <h2>Order and weights</h2>
        {draft.targets.length === 0 ? (
          <Empty>No accounts in this profile: every enabled account is a candidate.</Empty>
        ) : (
          <ol className="targets">
            {draft.targets.map((target, index) => (
              <li key={target.providerAccountId}>
                <span>{accountNames.get(target.providerAccountId) ?? target.providerAccountId}</span>
                {draft.strategy === RoutingStrategy.WEIGHTED && (
                  <label>
                    Weight
                    <input
                      type="number"
                      min={0}
                      value={target.weight}
                      onChange={(e) => change((p) => (p.targets[index]!.weight = Number(e.target.value)))}
                    />
                  </label>
                )}
                <button type="button" disabled={index === 0} onClick={() => move(index, index - 1)} aria-label={`Move ${target.providerAccountId} up`}>
                  ↑
                </button>
                <button
                  type="button"
                  disabled={index === draft.targets.length - 1}
                  onClick={() => move(index, index + 1)}
                  aria-label={`Move ${target.providerAccountId} down`}
                >
                  ↓
                </button>
                <button type="button" onClick={() => change((p) => p.targets.splice(index, 1))}>
                  Remove
                </button>
              </li>
            ))}
          </ol>
        )}
        {unused.length > 0 && (
          <label>
            Add an account
            <select value="" onChange={(e) => change((p) => p.targets.push({ $typeName: "onerouter.admin.v1.RoutingTarget", providerAccountId: e.target.value, weight: 1 }))}>
              <option value="">choose…</option>
              {unused.map((id) => (
                <option key={id} value={id}>
                  {accountNames.get(id)}
                </option>
              ))}
            </select>
          </label>
        )}
        {draft.rules.length > 0 && (
          <>
            <h2>Rules</h2>
            <ul>
              {draft.rules.map((rule) => (
                <li key={rule.name}>
                  <strong>{rule.name}</strong>: {[...(rule.condition?.currencies ?? []), ...(rule.condition?.countries ?? [])].join(", ") || "any"} →{" "}
                  {enumLabel(RoutingStrategy, rule.strategy)}
                </li>
              ))}
            </ul>
          </>
        )}
        <Permitted method={RoutingService.method.updateRoutingProfile}>
          <button type="button" className="primary" disabled={update.isPending} onClick={() => update.mutate({ routingProfile: draft })}>
            Save routing
          </button>
        </Permitted>
        {update.isSuccess && <p role="status">Saved.</p>}
        {update.error && <ErrorState error={update.error} />}
      </div>
      <Preview profile={draft} accountNames={accountNames} />
    </>
  );
}

function Preview({ profile, accountNames }: { profile: RoutingProfile; accountNames: Map<string, string> }) {
  const [amount, setAmount] = useState("25.00");
  const [currency, setCurrency] = useState("EUR");
  const [country, setCountry] = useState("DE");
  let minor: bigint | undefined;
  try {
    minor = parseMoney(amount, currency);
  } catch {
    minor = undefined;
  }
  const preview = minor === undefined ? undefined : previewRoute(profile, { amount: minor, currency, country });
  return (
    <section className="card" aria-labelledby="preview-title">
      <h2 id="preview-title">Preview</h2>
      <div className="inline">
        <label>
          Amount
          <input value={amount} inputMode="decimal" onChange={(e) => setAmount(e.target.value)} />
        </label>
        <label>
          Currency
          <input value={currency} maxLength={3} onChange={(e) => setCurrency(e.target.value.toUpperCase())} />
        </label>
        <label>
          Country
          <input value={country} maxLength={2} onChange={(e) => setCountry(e.target.value.toUpperCase())} />
        </label>
      </div>
      <p role="status" data-testid="routing-preview">
        {!preview || minor === undefined
          ? "Enter an amount and a currency."
          : preview.candidates.length === 0
            ? `A ${formatMoney(minor, currency)} payment from ${country} would go to any enabled account (${enumLabel(RoutingStrategy, preview.strategy)}).`
            : `A ${formatMoney(minor, currency)} payment from ${country} would go to ${preview.candidates
                .map((c) => `${accountNames.get(c.providerAccountId) ?? c.providerAccountId}${c.share !== undefined ? ` (${c.share}%)` : ""}`)
                .join(preview.strategy === RoutingStrategy.WEIGHTED ? " or " : ", then ")}${preview.rule ? `, by rule "${preview.rule}"` : ""} (${enumLabel(RoutingStrategy, preview.strategy)}).`}
      </p>
    </section>
  );
}
