import { useQuery } from "@connectrpc/connect-query";
import { AuditLogService } from "@onerouter/client/gen/onerouter/admin/v1/audit_logs_pb";
import { setQuery, useLocation } from "../router";
import { Empty, ErrorState, formatTime, Loading, Page } from "../ui";

export default function AuditLog() {
  const { query } = useLocation();
  const actor = query.get("actor") ?? "";
  const action = query.get("action") ?? "";
  const pageToken = query.get("page") ?? "";
  const list = useQuery(AuditLogService.method.listAuditLogEntries, { pageSize: 50, actor, action, pageToken });
  return (
    <Page title="Audit log">
      <div className="filters">
        <label>
          Actor
          <input value={actor} onChange={(e) => setQuery({ actor: e.target.value, page: undefined })} />
        </label>
        <label>
          Action
          <input value={action} onChange={(e) => setQuery({ action: e.target.value, page: undefined })} />
        </label>
      </div>
      {list.isPending ? (
        <Loading what="the audit log" />
      ) : list.error ? (
        <ErrorState error={list.error} what="the audit log" />
      ) : list.data.entries.length === 0 ? (
        <Empty>Nothing recorded{actor || action ? " for these filters" : ""}.</Empty>
      ) : (
        <>
          <table>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Actor</th>
                <th scope="col">Action</th>
                <th scope="col">Resource</th>
                <th scope="col">From</th>
              </tr>
            </thead>
            <tbody>
              {list.data.entries.map((entry) => (
                <tr key={entry.id}>
                  <td>{formatTime(entry.createTime)}</td>
                  <td>{entry.actor}</td>
                  <td>
                    <code>{entry.action}</code>
                  </td>
                  <td>
                    {entry.resourceType} <code>{entry.resourceId}</code>
                  </td>
                  <td>{entry.ipAddress}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {list.data.nextPageToken && (
            <button type="button" onClick={() => setQuery({ page: list.data.nextPageToken })}>
              Next page
            </button>
          )}
        </>
      )}
    </Page>
  );
}
