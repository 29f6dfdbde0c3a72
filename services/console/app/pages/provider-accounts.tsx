import { useMutation, useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { CircuitState, ProviderAccountService } from "@onerouter/client/gen/onerouter/admin/v1/provider_accounts_pb";
import { Category } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { useState, type FormEvent } from "react";
import { Permitted, PermittedButton } from "../session";
import { CopyButton, enumLabel, ErrorState, formatDuration, Loaded, Page, StatusBadge, Table } from "../ui";

// Credentials go in and never come back: the API answers only masked hints.
export default function ProviderAccounts() {
  const list = useQuery(ProviderAccountService.method.listProviderAccounts, { pageSize: 100 });
  const queryClient = useQueryClient();
  const invalidate = () => void queryClient.invalidateQueries();
  const update = useMutation(ProviderAccountService.method.updateProviderAccount, { onSuccess: invalidate });
  const test = useMutation(ProviderAccountService.method.testProviderAccount);
  return (
    <Page title="Provider accounts">
      <Permitted method={ProviderAccountService.method.createProviderAccount}>
        <AddAccount onAdded={invalidate} />
      </Permitted>
      {(update.error ?? test.error) && <ErrorState error={update.error ?? test.error} />}
      {test.data && (
        <p role="status" className={test.data.ok ? "ok" : "error"}>
          Test {test.data.ok ? "passed" : "failed"} in {formatDuration(test.data.latency)}: {test.data.message || test.data.error?.message}
        </p>
      )}
      <Loaded query={list} what="provider accounts" isEmpty={(data) => data.providerAccounts.length === 0} empty="No provider accounts yet.">
        {(data) => (
          <Table headings={["Account", "Provider", "Category", "Credentials", "Circuit", "Webhook URL", ""]}>
            {data.providerAccounts.map((account) => (
              <tr key={account.id}>
                <td>
                  {account.displayName}
                  <br />
                  <code className="muted">{account.id}</code>
                </td>
                <td>{account.provider}</td>
                <td>{enumLabel(Category, account.category)}</td>
                <td>
                  {Object.entries(account.credentialHints).map(([name, hint]) => (
                    <div key={name}>
                      {name}: <code>{hint}</code>
                    </div>
                  ))}
                </td>
                <td>
                  <StatusBadge label={account.enabled ? enumLabel(CircuitState, account.circuitState) : "disabled"} />
                </td>
                <td>{account.webhookUrl ? <CopyButton text={account.webhookUrl} label="Copy URL" /> : "—"}</td>
                <td className="row-actions">
                  <PermittedButton method={ProviderAccountService.method.testProviderAccount} onClick={() => test.mutate({ id: account.id })} disabled={test.isPending}>
                    Test
                  </PermittedButton>
                  <PermittedButton
                    method={ProviderAccountService.method.updateProviderAccount}
                    onClick={() => update.mutate({ id: account.id, enabled: !account.enabled, updateMask: { paths: ["enabled"] } })}
                  >
                    {account.enabled ? "Disable" : "Enable"}
                  </PermittedButton>
                </td>
              </tr>
            ))}
          </Table>
        )}
      </Loaded>
    </Page>
  );
}

// Credentials as name=value lines, since each provider names its own.
function AddAccount({ onAdded }: { onAdded: () => void }) {
  const [provider, setProvider] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [credentials, setCredentials] = useState("");
  const create = useMutation(ProviderAccountService.method.createProviderAccount, {
    onSuccess: () => {
      setProvider("");
      setDisplayName("");
      setCredentials("");
      onAdded();
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const pairs = credentials
      .split("\n")
      .map((line) => line.trim())
      .filter(Boolean)
      .map((line) => [line.slice(0, line.indexOf("=")).trim(), line.slice(line.indexOf("=") + 1).trim()] as const);
    create.mutate({ provider, displayName, credentials: Object.fromEntries(pairs) });
  };
  return (
    <form onSubmit={submit} className="card" aria-label="Add a provider account">
      <h2>Add an account</h2>
      <label>
        Provider
        <input required value={provider} placeholder="stripe, twilio, sandbox…" onChange={(e) => setProvider(e.target.value)} />
      </label>
      <label>
        Display name
        <input value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
      </label>
      <label>
        Credentials (one name=value a line; never shown again)
        <textarea value={credentials} autoComplete="off" spellCheck={false} rows={3} onChange={(e) => setCredentials(e.target.value)} />
      </label>
      <button type="submit" className="primary" disabled={create.isPending}>
        Add account
      </button>
      {create.error && <ErrorState error={create.error} />}
    </form>
  );
}
