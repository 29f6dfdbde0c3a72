import { useMutation, useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { ApiKeyService, type ApiKey, type ListApiKeysResponse } from "@onerouter/client/gen/onerouter/admin/v1/api_keys_pb";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { useState, type FormEvent } from "react";
import { setQuery, useLocation } from "../router";
import { Permitted, PermittedButton, useSession } from "../session";
import { Confirm, CopyButton, ErrorState, formatTime, Loaded, Page, Table } from "../ui";

// Keys of the environment shown; a new key's secret is shown once, here,
// and never again (the server keeps only its hash).
export default function ApiKeys() {
  const { environment } = useSession();
  const ownEnvironment = environment === "live" ? Environment.LIVE : Environment.TEST;
  // Keys are listed for both environments; the page shows those of the one chosen.
  const shown = (data: ListApiKeysResponse) => data.apiKeys.filter((key) => key.environment === ownEnvironment);
  const { query } = useLocation();
  const showRevoked = query.get("revoked") === "1";
  const list = useQuery(ApiKeyService.method.listApiKeys, { pageSize: 100, showRevoked });
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [revoking, setRevoking] = useState<ApiKey>();
  const create = useMutation(ApiKeyService.method.createApiKey, {
    onSuccess: () => {
      setName("");
      void queryClient.invalidateQueries();
    },
  });
  const revoke = useMutation(ApiKeyService.method.revokeApiKey, {
    onSuccess: () => {
      setRevoking(undefined);
      void queryClient.invalidateQueries();
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate({ name, environment: ownEnvironment });
  };
  return (
    <Page title="API keys">
      <Permitted method={ApiKeyService.method.createApiKey}>
        <form onSubmit={submit} className="inline" aria-label="Create an API key">
          <label>
            Name
            <input required value={name} placeholder="e.g. checkout backend" onChange={(e) => setName(e.target.value)} />
          </label>
          <button type="submit" className="primary" disabled={create.isPending}>
            Create {environment} key
          </button>
        </form>
      </Permitted>
      {create.error && <ErrorState error={create.error} />}
      {create.data && (
        <div className="secret-once" role="status">
          <p>
            <strong>Copy this key now.</strong> It is shown once and cannot be shown again.
          </p>
          <code className="secret" data-testid="new-key-secret">
            {create.data.secret}
          </code>
          <CopyButton text={create.data.secret} />
          <button type="button" onClick={() => create.reset()}>
            Done
          </button>
        </div>
      )}
      <label className="check">
        <input type="checkbox" checked={showRevoked} onChange={(e) => setQuery({ revoked: e.target.checked ? "1" : undefined })} /> Show
        revoked keys
      </label>
      <Loaded query={list} what="API keys" isEmpty={(data) => shown(data).length === 0} empty={`No ${environment} keys yet.`}>
        {(data) => (
          <Table headings={["Name", "Key", "Created", "Last used", "State", ""]}>
            {shown(data).map((key) => (
              <tr key={key.id}>
                <td>{key.name}</td>
                <td>
                  <code>{key.prefix}…</code>
                </td>
                <td>{formatTime(key.createTime)}</td>
                <td>{formatTime(key.lastUseTime)}</td>
                <td>{key.revokeTime ? `revoked ${formatTime(key.revokeTime)}` : "active"}</td>
                <td>
                  {!key.revokeTime && (
                    <PermittedButton method={ApiKeyService.method.revokeApiKey} className="danger" onClick={() => setRevoking(key)}>
                      Revoke
                    </PermittedButton>
                  )}
                </td>
              </tr>
            ))}
          </Table>
        )}
      </Loaded>
      {revoking && (
        <Confirm
          title={`Revoke "${revoking.name}"?`}
          confirmLabel="Revoke key"
          danger
          busy={revoke.isPending}
          onCancel={() => setRevoking(undefined)}
          onConfirm={() => revoke.mutate({ id: revoking.id })}
        >
          <p>Calls with this key fail from now on. This cannot be undone.</p>
          {revoke.error && <ErrorState error={revoke.error} />}
        </Confirm>
      )}
    </Page>
  );
}
