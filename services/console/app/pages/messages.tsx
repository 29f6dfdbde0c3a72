import { useQuery } from "@connectrpc/connect-query";
import { Channel, MessageStatus, MessagingService, type Message } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { Link, useLocation } from "../router";
import { useSession } from "../session";
import { Empty, enumLabel, EnumFilter, formatTime, FindById, Loaded, NextPage, Page, StatusBadge, Table } from "../ui";

export default function Messages({ params }: { params: string[] }) {
  return params[0] ? <MessageDetail id={params[0]} /> : <MessageList />;
}

function MessageList() {
  const { environment } = useSession();
  const { query } = useLocation();
  const pageToken = query.get("page") ?? "";
  const channel = Number(query.get("channel") ?? 0);
  const status = Number(query.get("status") ?? 0);
  const list = useQuery(MessagingService.method.listMessages, { pageSize: 25, pageToken, channel, status });
  return (
    <Page title="Messages">
      <div className="filters">
        <FindById label="Message id" placeholder="msg_…" pathOf={(id) => `/${environment}/messages/${id}`} />
        <EnumFilter label="Channel" enumObject={Channel} value={channel} name="channel" />
        <EnumFilter label="Status" enumObject={MessageStatus} value={status} name="status" />
      </div>
      <Loaded
        query={list}
        what="messages"
        isEmpty={(data) => data.messages.length === 0}
        empty={channel || status ? "No messages match these filters." : `No messages in ${environment} yet.`}
      >
        {(data) => (
          <>
            <Table headings={["Message", "Channel", "To", "Status", "Provider", "Created"]}>
              {data.messages.map((message) => (
                <tr key={message.id}>
                  <td>
                    <Link to={`/${environment}/messages/${message.id}`}>{message.id}</Link>
                  </td>
                  <td>{enumLabel(Channel, message.channel)}</td>
                  <td>{recipient(message)}</td>
                  <td>
                    <StatusBadge label={enumLabel(MessageStatus, message.status)} />
                  </td>
                  <td>{message.provider || "—"}</td>
                  <td>{formatTime(message.createTime)}</td>
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

function recipient(message: Message): string {
  const content = message.content;
  if (content.case === "sms") return content.value.to;
  if (content.case === "email") return content.value.to.map((to) => to.email).join(", ");
  return "—";
}

function MessageDetail({ id }: { id: string }) {
  const { environment } = useSession();
  const got = useQuery(MessagingService.method.getMessage, { id });
  return (
    <Page title={`Message ${id}`} actions={<Link to={`/${environment}/messages`}>All messages</Link>}>
      <Loaded query={got} what="the message" isEmpty={(data) => !data.message} empty="No such message.">
        {(data) => <MessageView message={data.message!} />}
      </Loaded>
    </Page>
  );
}

function MessageView({ message }: { message: Message }) {
  return (
    <>
      <dl className="facts">
        <dt>Channel</dt>
        <dd>{enumLabel(Channel, message.channel)}</dd>
        <dt>To</dt>
        <dd>{recipient(message)}</dd>
        <dt>Status</dt>
        <dd>
          <StatusBadge label={enumLabel(MessageStatus, message.status)} />
        </dd>
        <dt>Provider</dt>
        <dd>{message.provider || "—"}</dd>
        <dt>Sent</dt>
        <dd>{formatTime(message.sendTime)}</dd>
        <dt>Delivered (provider's callback)</dt>
        <dd>{formatTime(message.deliverTime)}</dd>
        {message.error && (
          <>
            <dt>Error</dt>
            <dd>
              {message.error.message} <code>{message.error.reason}</code>
            </dd>
          </>
        )}
      </dl>
      <h2>Attempts</h2>
      {message.attempts.length === 0 ? (
        <Empty>No provider was called.</Empty>
      ) : (
        <ol className="timeline" aria-label="Attempts">
          {message.attempts.map((attempt) => (
            <li key={attempt.id} className="attempt">
              <div className="attempt-head">
                <strong>{attempt.provider}</strong> <span className="muted">{formatTime(attempt.createTime)}</span>
              </div>
              <dl className="facts compact">
                <dt>Account</dt>
                <dd>
                  <code>{attempt.providerAccountId}</code>
                </dd>
                <dt>Status</dt>
                <dd>
                  <StatusBadge label={enumLabel(MessageStatus, attempt.status)} />
                </dd>
                {attempt.error && (
                  <>
                    <dt>Error</dt>
                    <dd>
                      {attempt.error.message} <code>{attempt.error.reason}</code>
                    </dd>
                  </>
                )}
              </dl>
            </li>
          ))}
        </ol>
      )}
    </>
  );
}
