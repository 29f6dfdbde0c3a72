import { useQuery } from "@connectrpc/connect-query";
import { AuditLogService } from "@onerouter/client/gen/onerouter/admin/v1/audit_logs_pb";
import { setQuery, useLocation } from "../router";
import { formatTime, Loaded, Page, PagedTable } from "../ui";

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
      <Loaded
        query={list}
        what="the audit log"
        isEmpty={(data) => data.entries.length === 0}
        empty={`Nothing recorded${actor || action ? " for these filters" : ""}.`}
      >
        {(data) => (
          <PagedTable headings={["When", "Actor", "Action", "Resource", "From"]} nextPageToken={data.nextPageToken}>
              {data.entries.map((entry) => (
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
          </PagedTable>
        )}
      </Loaded>
    </Page>
  );
}
