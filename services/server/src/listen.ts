import { parseArgs } from "node:util";
import { toJsonString } from "@bufbuild/protobuf";
import { createOneRouterClient, type ConnectError } from "@onerouter/client";
import { EventSchema, type Event } from "@onerouter/client/gen/onerouter/events/v1/events_pb";
import { newEndpointSecret, signStandardWebhook, webhookUserAgent } from "@onerouter/webhooks";
import { UsageError } from "./cli-usage";

interface ListenIo {
  env: NodeJS.ProcessEnv;
  // One line per event.
  out(line: string): void;
  // The banner and connection news.
  err(line: string): void;
  // Ends listening; the command then returns 0.
  signal: AbortSignal;
}

const forwardTimeoutMs = 10_000;

// `onerouter listen`: StreamEvents through the client, which resumes after a
// dropped connection from the last event received, so every event reaches
// the local receiver once, in order, without registering an endpoint.
// The CLI's `listen`: a client of a running server, needing no configuration of its own.
export async function listenCommand(args: string[]): Promise<number> {
  const stop = new AbortController();
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => stop.abort());
  try {
    return await listen(args, { env: process.env, out: (line) => console.log(line), err: (line) => console.error(line), signal: stop.signal });
  } catch (err) {
    if ((err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) throw new UsageError((err as Error).message, "listen");
    throw err;
  }
}

export async function listen(args: string[], io: ListenIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      "forward-to": { type: "string" },
      "print-json": { type: "boolean", default: false },
      events: { type: "string", multiple: true, default: [] },
      "api-key": { type: "string" },
      url: { type: "string" },
      secret: { type: "string" },
    },
  });
  const forwardTo = values["forward-to"];
  const printJson = values["print-json"];
  if (!forwardTo === !printJson) throw new UsageError("listen needs --forward-to URL or --print-json (one of them)", "listen");
  if (forwardTo !== undefined && !/^https?:\/\//.test(forwardTo)) {
    throw new UsageError(`--forward-to must be an http:// or https:// URL, not "${forwardTo}"`, "listen");
  }
  const apiKey = values["api-key"] ?? io.env.ONEROUTER_API_KEY;
  if (!apiKey) {
    throw new UsageError("listen needs an API key: --api-key or ONEROUTER_API_KEY (make one with: npx onerouter keys create --env test)", "listen");
  }
  const secret = values.secret ?? newEndpointSecret();
  if (!secret.startsWith("whsec_")) throw new UsageError("--secret must start with whsec_", "listen");
  const baseUrl = values.url ?? io.env.ONEROUTER_URL ?? `http://localhost:${io.env.PORT || 8080}`;
  const eventTypes = values.events.flatMap((list) => list.split(",")).map((t) => t.trim()).filter(Boolean);

  const onerouter = createOneRouterClient({ baseUrl, apiKey });
  const which = eventTypes.length > 0 ? eventTypes.join(", ") : "all events";
  let disconnected = false;
  let opened = false;
  const events = onerouter.events({
    eventTypes,
    signal: io.signal,
    onOpen() {
      opened = true;
      if (disconnected) io.err("Reconnected; catching up from the last event received.");
      else if (forwardTo) io.err(`Ready. Forwarding ${which} from ${baseUrl} to ${forwardTo} (Ctrl-C to stop).`);
      else io.err(`Ready. Printing ${which} from ${baseUrl} (Ctrl-C to stop).`);
      disconnected = false;
    },
    onDisconnect({ error, retryInMs }) {
      const retry = `${(retryInMs / 1000).toFixed(1)} s`;
      // Never connected: most likely no server runs there yet.
      if (!opened) io.err(`Cannot reach OneRouter at ${baseUrl} (${error.rawMessage}); is it running (npm start, or --url)? Trying again in ${retry}.`);
      else io.err(`Connection lost (${error.rawMessage}); reconnecting in ${retry}.`);
      disconnected = true;
    },
  });
  if (forwardTo) {
    io.err(`Webhook signing secret: ${secret}`);
    io.err("Verify deliveries with it exactly as in production (verifyWebhook, or any Standard Webhooks library).");
  }
  try {
    for await (const event of events) {
      if (forwardTo) io.out(await forward(event, forwardTo, secret));
      else io.out(toJsonString(EventSchema, event));
    }
  } catch (err) {
    throw new Error(`the event stream from ${baseUrl} failed: ${(err as ConnectError).rawMessage ?? String(err)}`, { cause: err });
  }
  return 0;
}

// Posts the event as OneRouter delivers it to endpoints; answers the line to print.
async function forward(event: Event, url: string, secret: string): Promise<string> {
  const body = toJsonString(EventSchema, event);
  const started = performance.now();
  const prefix = `${new Date().toISOString()}  ${event.type.padEnd(26)} ${event.id}`;
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: {
        ...signStandardWebhook({ id: event.id, timestamp: new Date(), body, secrets: [secret] }),
        "content-type": "application/json",
        "user-agent": webhookUserAgent,
      },
      body,
      signal: AbortSignal.timeout(forwardTimeoutMs),
    });
    await res.arrayBuffer();
    return `${prefix}  -> ${res.status} ${res.statusText} (${Math.round(performance.now() - started)} ms)`;
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    return `${prefix}  -> not delivered: ${cause}`;
  }
}
