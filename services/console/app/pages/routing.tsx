import { useMutation, useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { clone, create } from "@bufbuild/protobuf";
import { ProviderAccountService } from "@onerouter/client/gen/onerouter/admin/v1/provider_accounts_pb";
import {
  FeeSchema,
  RoutingProfileSchema,
  RoutingRuleSchema,
  RoutingService,
  RoutingStrategy,
  type Fee,
  type RoutingCondition,
  type RoutingProfile,
  type RoutingRule,
} from "@onerouter/client/gen/onerouter/admin/v1/routing_pb";
import { useState, type FormEvent } from "react";
import { previewRoute } from "../routing-preview";
import { CategoryPicker, useCategory } from "../pickers";
import { useSession } from "../session";
import { Empty, enumLabel, EnumOptions, ErrorState, formatMoney, Loading, Page, parseMoney, Table } from "../ui";

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

// A member whose role may not change routing sees the profile and can
// preview it, with no control that edits it.
function Editor({ saved, accountNames }: { saved: RoutingProfile; accountNames: Map<string, string> }) {
  const editable = useSession().can(RoutingService.method.updateRoutingProfile);
  const [draft, setDraft] = useState(() => clone(RoutingProfileSchema, saved));
  const queryClient = useQueryClient();
  const update = useMutation(RoutingService.method.updateRoutingProfile, { onSuccess: () => void queryClient.invalidateQueries() });
  const change = (edit: (profile: RoutingProfile) => void) => {
    const next = clone(RoutingProfileSchema, draft);
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
          <select value={draft.strategy} disabled={!editable} onChange={(e) => change((p) => (p.strategy = Number(e.target.value)))}>
            <EnumOptions enumObject={RoutingStrategy} values={strategies} />
          </select>
        </label>
        <label className="check">
          <input type="checkbox" checked={draft.failoverOnDecline} disabled={!editable} onChange={(e) => change((p) => (p.failoverOnDecline = e.target.checked))} /> Fail
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
                      disabled={!editable}
                      onChange={(e) => change((p) => (p.targets[index]!.weight = Number(e.target.value)))}
                    />
                  </label>
                )}
                {editable && (
                  <>
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
                  </>
                )}
              </li>
            ))}
          </ol>
        )}
        {editable && unused.length > 0 && (
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
        <h2>Rules</h2>
        {draft.rules.length === 0 ? (
          <Empty>No rules: every payment follows the strategy above.</Empty>
        ) : (
          <ol>
            {draft.rules.map((rule, index) => (
              <li key={`${rule.name}/${index}`}>
                <strong>{rule.name}</strong>: {describeCondition(rule.condition)} → {enumLabel(RoutingStrategy, rule.strategy)}
                {rule.targets.length > 0 && ` (${rule.targets.map((t) => accountNames.get(t.providerAccountId) ?? t.providerAccountId).join(", ")})`}{" "}
                {editable && (
                  <button type="button" onClick={() => change((p) => p.rules.splice(index, 1))}>
                    Remove rule
                  </button>
                )}
              </li>
            ))}
          </ol>
        )}
        {editable && <RuleForm accountNames={accountNames} onAdd={(rule) => change((p) => p.rules.push(rule))} />}
        <h2>Fee overrides</h2>
        {draft.fees.length === 0 ? (
          <Empty>No overrides: the providers' list prices are used.</Empty>
        ) : (
          <Table headings={["Provider", "Currency", "Country", "Percentage", "Fixed", ""]}>
            {draft.fees.map((fee, index) => (
              <tr key={`${fee.provider}/${fee.currency}/${fee.country}/${index}`}>
                <td>{fee.provider}</td>
                <td>{fee.currency || "any"}</td>
                <td>{fee.country || "any"}</td>
                <td className="num">{(fee.percentageBps / 100).toFixed(2)}%</td>
                <td className="num">{(Number(fee.fixedMicros) / 1e6).toFixed(2)}</td>
                <td>
                  {editable && (
                    <button type="button" onClick={() => change((p) => p.fees.splice(index, 1))}>
                      Remove
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </Table>
        )}
        {editable && (
          <>
            <FeeForm onAdd={(fee) => change((p) => p.fees.push(fee))} />
            <button type="button" className="primary" disabled={update.isPending} onClick={() => update.mutate({ routingProfile: draft })}>
              Save routing
            </button>
          </>
        )}
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
    // Not a currency Intl knows (yet, while it is being typed).
    minor = undefined;
  }
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
      <PreviewOutcome profile={profile} accountNames={accountNames} amount={minor} currency={currency} country={country} />
    </section>
  );
}

// The sentence the preview answers with: where a payment of `amount` (minor
// units; undefined while it is not a number) would go under the draft profile.
export function PreviewOutcome({
  profile,
  accountNames,
  amount,
  currency,
  country,
}: {
  profile: RoutingProfile;
  accountNames: Map<string, string>;
  amount: bigint | undefined;
  currency: string;
  country: string;
}) {
  const preview = amount === undefined ? undefined : previewRoute(profile, { amount, currency, country });
  const payment = amount === undefined ? "" : `A ${formatMoney(amount, currency)} payment from ${country}`;
  const strategy = preview ? ` (${enumLabel(RoutingStrategy, preview.strategy)})` : "";
  return (
    <p role="status" data-testid="routing-preview">
      {!preview
        ? "Enter an amount and a currency."
        : preview.candidates.length === 0
          ? `${payment} would go to any enabled account${strategy}.`
          : `${payment} would go to ${preview.candidates
              .map((c) => `${accountNames.get(c.providerAccountId) ?? c.providerAccountId}${c.share !== undefined ? ` (${c.share}%)` : ""}`)
              .join(preview.strategy === RoutingStrategy.WEIGHTED ? " or " : ", then ")}${preview.rule ? `, by rule "${preview.rule}"` : ""}${strategy}.`}
    </p>
  );
}

function describeCondition(condition: RoutingCondition | undefined): string {
  if (!condition) return "any payment";
  const parts = [
    condition.currencies.length > 0 && `currency ${condition.currencies.join("/")}`,
    condition.countries.length > 0 && `country ${condition.countries.join("/")}`,
    condition.minAmount > 0n && `at least ${condition.minAmount} (minor units)`,
    condition.maxAmount > 0n && `at most ${condition.maxAmount} (minor units)`,
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(", ") : "any payment";
}

const codes = (text: string) =>
  text
    .split(",")
    .map((code) => code.trim().toUpperCase())
    .filter(Boolean);

// A rule's condition and what it routes to; amounts in minor units, as the API takes them.
function RuleForm({ accountNames, onAdd }: { accountNames: Map<string, string>; onAdd: (rule: RoutingRule) => void }) {
  const [name, setName] = useState("");
  const [currencies, setCurrencies] = useState("");
  const [countries, setCountries] = useState("");
  const [minAmount, setMinAmount] = useState("");
  const [maxAmount, setMaxAmount] = useState("");
  const [strategy, setStrategy] = useState(RoutingStrategy.PRIORITY);
  const [targets, setTargets] = useState<string[]>([]);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onAdd(
      create(RoutingRuleSchema, {
        name,
        condition: { currencies: codes(currencies), countries: codes(countries), minAmount: BigInt(minAmount || 0), maxAmount: BigInt(maxAmount || 0) },
        strategy,
        targets: targets.map((providerAccountId) => ({ providerAccountId, weight: 1 })),
      }),
    );
    setName("");
  };
  return (
    <form onSubmit={submit} className="inline" aria-label="Add a rule">
      <label>
        Rule name
        <input required value={name} onChange={(e) => setName(e.target.value)} />
      </label>
      <label>
        Currencies
        <input value={currencies} placeholder="EUR, USD" onChange={(e) => setCurrencies(e.target.value)} />
      </label>
      <label>
        Countries
        <input value={countries} placeholder="DE, FR" onChange={(e) => setCountries(e.target.value)} />
      </label>
      <label>
        Min amount
        <input type="number" min={0} value={minAmount} onChange={(e) => setMinAmount(e.target.value)} />
      </label>
      <label>
        Max amount
        <input type="number" min={0} value={maxAmount} onChange={(e) => setMaxAmount(e.target.value)} />
      </label>
      <label>
        Rule strategy
        <select value={strategy} onChange={(e) => setStrategy(Number(e.target.value))}>
          <EnumOptions enumObject={RoutingStrategy} values={strategies} />
        </select>
      </label>
      <label>
        Rule accounts
        <select multiple value={targets} onChange={(e) => setTargets(Array.from(e.target.selectedOptions, (o) => o.value))}>
          {[...accountNames].map(([id, label]) => (
            <option key={id} value={id}>
              {label}
            </option>
          ))}
        </select>
      </label>
      <button type="submit">Add rule</button>
    </form>
  );
}

// A negotiated price for one provider, optionally per currency and country.
function FeeForm({ onAdd }: { onAdd: (fee: Fee) => void }) {
  const [provider, setProvider] = useState("");
  const [currency, setCurrency] = useState("");
  const [country, setCountry] = useState("");
  const [percent, setPercent] = useState("");
  const [fixed, setFixed] = useState("");
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onAdd(
      create(FeeSchema, {
        provider,
        currency: currency.toUpperCase(),
        country: country.toUpperCase(),
        percentageBps: Math.round(Number(percent || 0) * 100),
        fixedMicros: BigInt(Math.round(Number(fixed || 0) * 1e6)),
      }),
    );
    setProvider("");
  };
  return (
    <form onSubmit={submit} className="inline" aria-label="Add a fee override">
      <label>
        Fee provider
        <input required value={provider} placeholder="stripe" onChange={(e) => setProvider(e.target.value)} />
      </label>
      <label>
        Fee currency
        <input value={currency} maxLength={3} placeholder="any" onChange={(e) => setCurrency(e.target.value)} />
      </label>
      <label>
        Fee country
        <input value={country} maxLength={2} placeholder="any" onChange={(e) => setCountry(e.target.value)} />
      </label>
      <label>
        Percent
        <input type="number" min={0} step={0.01} value={percent} onChange={(e) => setPercent(e.target.value)} />
      </label>
      <label>
        Fixed (major units)
        <input type="number" min={0} step={0.01} value={fixed} onChange={(e) => setFixed(e.target.value)} />
      </label>
      <button type="submit">Add fee</button>
    </form>
  );
}
