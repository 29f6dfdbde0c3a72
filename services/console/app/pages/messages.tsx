import { useQuery } from "@connectrpc/connect-query";
import { Channel, MessageStatus, MessagingService, type Message } from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { Link, useLocation } from "../router";
import { useSession } from "../session";
import { AttemptTimeline } from "../attempt-timeline";
import { DetailPage, enumLabel, EnumFilter, Facts, FindById, formatTime, Loaded, Page, PagedTable, ProviderErrorText, StatusBadge } from "../ui";

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
          <PagedTable headings={["Message", "Channel", "To", "Status", "Provider", "Created"]} nextPageToken={data.nextPageToken}>
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
          </PagedTable>
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
  const got = useQuery(MessagingService.method.getMessage, { id });
  const list = { section: "messages", label: "All messages" };
  return (
    <DetailPage title={`Message ${id}`} list={list} query={got} what="the message" object={(data) => data.message}>
      {(message) => <MessageView message={message} />}
    </DetailPage>
  );
}

function MessageView({ message }: { message: Message }) {
  return (
    <>
      <Facts
        facts={[
          ["Channel", enumLabel(Channel, message.channel)],
          ["To", recipient(message)],
          ["Status", <StatusBadge label={enumLabel(MessageStatus, message.status)} />],
          ["Provider", message.provider || "—"],
          ["Provider's id", message.providerMessageId ? <code>{message.providerMessageId}</code> : "—"],
          ["Sent", formatTime(message.sendTime)],
          ["Delivered (provider's callback)", formatTime(message.deliverTime)],
          message.error && ["Error", <ProviderErrorText error={message.error} />],
        ]}
      />
      <h2>Attempts</h2>
      <AttemptTimeline attempts={message.attempts.map((attempt) => ({ ...attempt, status: enumLabel(MessageStatus, attempt.status) }))} />
    </>
  );
}
