import { toJsonString } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { EventSchema } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import { useMutation, useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { DeliveryStatus, EndpointStatus, WebhookService, type Endpoint } from "@onerouter/client/gen/onerouter/webhooks/v1/webhooks_pb";
import { useState, type FormEvent } from "react";
import { Link } from "../router";
import { Permitted, PermittedButton, useSession } from "../session";
import { Confirm, CopyButton, DetailPage, enumLabel, ErrorState, Facts, formatDuration, formatTime, Loaded, Page, StatusBadge, Table } from "../ui";

export default function Webhooks({ params }: { params: string[] }) {
  return params[0] ? <EndpointDetail id={params[0]} /> : <EndpointList />;
}

function useInvalidate() {
  const queryClient = useQueryClient();
  return () => void queryClient.invalidateQueries();
}

function EndpointList() {
  const { environment } = useSession();
  const list = useQuery(WebhookService.method.listEndpoints, { pageSize: 100 });
  return (
    <Page title="Webhooks">
      <Permitted method={WebhookService.method.createEndpoint}>
        <CreateEndpoint />
      </Permitted>
      <h2>Endpoints</h2>
      <Loaded
        query={list}
        what="endpoints"
        isEmpty={(data) => data.endpoints.length === 0}
        empty={`No endpoints in ${environment} yet: events are kept and can be recovered once you add one.`}
      >
        {(data) => (
          <Table headings={["URL", "Events", "Status", "Created"]}>
            {data.endpoints.map((endpoint) => (
              <tr key={endpoint.id}>
                <td>
                  <Link to={`/${environment}/webhooks/${endpoint.id}`}>{endpoint.url}</Link>
                </td>
                <td>{endpoint.eventTypes.length ? endpoint.eventTypes.join(", ") : "all"}</td>
                <td>
                  <StatusBadge label={enumLabel(EndpointStatus, endpoint.status)} />
                </td>
                <td>{formatTime(endpoint.createTime)}</td>
              </tr>
            ))}
          </Table>
        )}
      </Loaded>
    </Page>
  );
}

function CreateEndpoint() {
  const invalidate = useInvalidate();
  const eventTypes = useQuery(WebhookService.method.listEventTypes, {});
  const [url, setUrl] = useState("");
  const [description, setDescription] = useState("");
  const [chosen, setChosen] = useState<string[]>([]);
  const create = useMutation(WebhookService.method.createEndpoint, {
    onSuccess: () => {
      setUrl("");
      setDescription("");
      setChosen([]);
      invalidate();
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate({ url, description, eventTypes: chosen });
  };
  return (
    <>
      <form onSubmit={submit} className="card" aria-label="Add an endpoint">
        <h2>Add an endpoint</h2>
        <label>
          URL
          <input type="url" required value={url} placeholder="https://example.com/webhooks" onChange={(e) => setUrl(e.target.value)} />
        </label>
        <label>
          Description
          <input value={description} onChange={(e) => setDescription(e.target.value)} />
        </label>
        <fieldset>
          <legend>Event types (none chosen: all)</legend>
          {eventTypes.error && <ErrorState error={eventTypes.error} what="event types" />}
          <div className="checks">
            {eventTypes.data?.eventTypes.map((type) => (
              <label key={type.name} className="check" title={type.description}>
                <input
                  type="checkbox"
                  checked={chosen.includes(type.name)}
                  onChange={(e) => setChosen(e.target.checked ? [...chosen, type.name] : chosen.filter((name) => name !== type.name))}
                />{" "}
                {type.name}
              </label>
            ))}
          </div>
        </fieldset>
        <button type="submit" className="primary" disabled={create.isPending}>
          Add endpoint
        </button>
        {create.error && <ErrorState error={create.error} />}
      </form>
      {create.data && <SecretOnce secret={create.data.secret} onDone={() => create.reset()} />}
    </>
  );
}

function SecretOnce({ secret, onDone }: { secret: string; onDone: () => void }) {
  return (
    <div className="secret-once" role="status">
      <p>
        <strong>Signing secret.</strong> Verify each delivery with it; copy it now, it is not shown again.
      </p>
      <code className="secret" data-testid="endpoint-secret">
        {secret}
      </code>
      <CopyButton text={secret} />
      <button type="button" onClick={onDone}>
        Done
      </button>
    </div>
  );
}

function EndpointDetail({ id }: { id: string }) {
  const got = useQuery(WebhookService.method.getEndpoint, { id });
  const list = { section: "webhooks", label: "All endpoints" };
  return (
    <DetailPage title="Webhook endpoint" list={list} query={got} what="the endpoint" object={(data) => data.endpoint}>
      {(endpoint) => <EndpointView endpoint={endpoint} />}
    </DetailPage>
  );
}

function EndpointView({ endpoint }: { endpoint: Endpoint }) {
  const invalidate = useInvalidate();
  const [confirming, setConfirming] = useState<"rotate" | "recover">();
  const [since, setSince] = useState(() => new Date(Date.now() - 24 * 3600_000).toISOString().slice(0, 16));
  const attempts = useQuery(WebhookService.method.listDeliveryAttempts, { endpointId: endpoint.id, pageSize: 50 });
  const rotate = useMutation(WebhookService.method.rotateEndpointSecret, { onSuccess: () => setConfirming(undefined) });
  const sendTest = useMutation(WebhookService.method.sendTestEvent, { onSuccess: () => setTimeout(invalidate, 500) });
  const recover = useMutation(WebhookService.method.recoverEndpoint, {
    onSuccess: () => {
      setConfirming(undefined);
      invalidate();
    },
  });
  const resend = useMutation(WebhookService.method.resendEvent, { onSuccess: invalidate });
  const failed = rotate.error ?? sendTest.error ?? recover.error ?? resend.error;
  return (
    <>
      <Facts
        facts={[
          ["URL", <code>{endpoint.url}</code>],
          ["Id", <code>{endpoint.id}</code>],
          [
            "Status",
            <>
              <StatusBadge label={enumLabel(EndpointStatus, endpoint.status)} /> {endpoint.disabledReason}
            </>,
          ],
          ["Events", endpoint.eventTypes.length ? endpoint.eventTypes.join(", ") : "all"],
          ["Description", endpoint.description || "—"],
        ]}
      />
      <div className="actions">
        <PermittedButton method={WebhookService.method.sendTestEvent} onClick={() => sendTest.mutate({ endpointId: endpoint.id })} disabled={sendTest.isPending}>
          Send a test event
        </PermittedButton>
        <PermittedButton method={WebhookService.method.rotateEndpointSecret} onClick={() => setConfirming("rotate")}>
          Rotate secret
        </PermittedButton>
        <Permitted method={WebhookService.method.recoverEndpoint}>
          <label>
            Recover since
            <input type="datetime-local" value={since} onChange={(e) => setSince(e.target.value)} />
          </label>
          <button type="button" onClick={() => setConfirming("recover")}>
            Recover
          </button>
        </Permitted>
      </div>
      {sendTest.data && <p role="status">Test event {sendTest.data.event?.id} sent.</p>}
      {recover.data && <p role="status">{recover.data.eventsRequeued} events queued again.</p>}
      {failed && <ErrorState error={failed} />}
      {rotate.data && <SecretOnce secret={rotate.data.secret} onDone={() => rotate.reset()} />}

      <h2>Delivery attempts</h2>
      <Loaded query={attempts} what="delivery attempts" isEmpty={(data) => data.attempts.length === 0} empty="Nothing delivered yet.">
        {(data) => (
          <Table headings={["Event", "Try", "Status", "Request and response", "Latency", "At", ""]}>
            {data.attempts.map((attempt) => (
              <tr key={attempt.id}>
                <td>
                  <code>{attempt.eventId}</code>
                </td>
                <td className="num">{attempt.attemptNumber}</td>
                <td>
                  <StatusBadge label={enumLabel(DeliveryStatus, attempt.status)} />
                </td>
                <td>
                  <DeliveryRequest eventId={attempt.eventId} />
                  {attempt.responseStatusCode ? <code>HTTP {attempt.responseStatusCode}</code> : null} {attempt.error}
                  {attempt.responseBody && (
                    <details>
                      <summary>Body</summary>
                      <pre>{attempt.responseBody}</pre>
                    </details>
                  )}
                </td>
                <td>{formatDuration(attempt.latency)}</td>
                <td>{formatTime(attempt.createTime)}</td>
                <td>
                  <PermittedButton method={WebhookService.method.resendEvent} onClick={() => resend.mutate({ eventId: attempt.eventId, endpointId: endpoint.id })}>
                    Resend
                  </PermittedButton>
                </td>
              </tr>
            ))}
          </Table>
        )}
      </Loaded>
      {confirming === "rotate" && (
        <Confirm
          title="Rotate the signing secret?"
          confirmLabel="Rotate"
          busy={rotate.isPending}
          onCancel={() => setConfirming(undefined)}
          onConfirm={() => rotate.mutate({ id: endpoint.id, overlap: { seconds: 24n * 3600n, nanos: 0 } })}
        >
          <p>The old secret keeps signing alongside the new one for 24 hours.</p>
        </Confirm>
      )}
      {confirming === "recover" && (
        <Confirm
          title="Deliver again every event since then?"
          confirmLabel="Recover"
          busy={recover.isPending}
          onCancel={() => setConfirming(undefined)}
          onConfirm={() => recover.mutate({ endpointId: endpoint.id, sinceTime: timestampFromDate(new Date(since)) })}
        >
          <p>Every event since {new Date(since).toUTCString()} that this endpoint subscribes to is queued again.</p>
        </Confirm>
      )}
    </>
  );
}

// What a delivery sent: the event, as the proto3 JSON body every attempt
// carries, fetched only when asked for.
function DeliveryRequest({ eventId }: { eventId: string }) {
  const [open, setOpen] = useState(false);
  const event = useQuery(WebhookService.method.getEvent, { id: eventId }, { enabled: open });
  return (
    <details onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>Request</summary>
      {open && (
        <Loaded query={event} what="the event" isEmpty={(data) => !data.event} empty="The event is no longer kept.">
          {(data) => <pre>{toJsonString(EventSchema, data.event!, { prettySpaces: 2 })}</pre>}
        </Loaded>
      )}
    </details>
  );
}
