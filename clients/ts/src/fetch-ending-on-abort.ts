/**
 * A fetch whose abort signal always ends the call, given to the "connect"
 * and "grpc-web" transports.
 *
 * Node's fetch (undici) follows the signal it is given through a weak
 * reference to an object that a garbage collection can take once fetch() has
 * returned (nodejs/undici#3644). Aborting after that leaves the response
 * streaming: an event stream's loop never ends and its connection stays open.
 * So the abort is also applied here: a call still waiting for its response
 * rejects with the signal's reason, and a body being read errors with it and
 * cancels the body underneath, which closes the connection.
 */
export function fetchEndingOnAbort(fetchImpl?: typeof globalThis.fetch): typeof globalThis.fetch {
  return async (input, init) => {
    // Looked up at each call, so a fetch installed later is used.
    const fetchNow = fetchImpl ?? globalThis.fetch;
    const signal = init?.signal;
    if (!signal) return fetchNow(input, init);
    signal.throwIfAborted();
    const response = await untilAborted(fetchNow(input, init), signal);
    // Statuses whose body must be empty keep the response as it is.
    if (!response.body || nullBodyStatuses.has(response.status)) return response;
    const { status, statusText, headers } = response;
    return new Response(bodyEndingOnAbort(response.body, signal), { status, statusText, headers });
  };
}

const nullBodyStatuses = new Set([101, 103, 204, 205, 304]);

function untilAborted(fetching: Promise<Response>, signal: AbortSignal): Promise<Response> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason);
      // A response arriving after the abort is not read: its body is let go.
      fetching.then((late) => late.body?.cancel(signal.reason), () => {}).catch(() => {});
    };
    signal.addEventListener("abort", onAbort, { once: true });
    fetching.then(
      (response) => {
        signal.removeEventListener("abort", onAbort);
        resolve(response);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}

function bodyEndingOnAbort(body: ReadableStream<Uint8Array>, signal: AbortSignal): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let onAbort = () => {};
  return new ReadableStream<Uint8Array>({
    start(controller) {
      onAbort = () => {
        controller.error(signal.reason);
        reader.cancel(signal.reason).catch(() => {});
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    },
    async pull(controller) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (err) {
        signal.removeEventListener("abort", onAbort);
        controller.error(err);
        return;
      }
      // Aborted while reading: the stream has already errored.
      if (signal.aborted) return;
      if (chunk.done) {
        signal.removeEventListener("abort", onAbort);
        controller.close();
      } else {
        controller.enqueue(chunk.value);
      }
    },
    cancel(reason) {
      signal.removeEventListener("abort", onAbort);
      return reader.cancel(reason);
    },
  });
}
