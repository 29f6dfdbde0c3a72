import { ConnectError, type Interceptor } from "@connectrpc/connect";
import { context, createContextKey } from "@opentelemetry/api";

// Every answer says how its time was spent, as a standard Server-Timing
// header (and a gRPC trailer): the provider calls the request waited on,
// and the platform's own time (everything else), so a caller can measure
// OneRouter's overhead without trusting a benchmark of ours.
//
// `platform;dur=3.1, provider;dur=182.4` (milliseconds)

const serverTimingHeader = "server-timing";

class RequestTiming {
  private readonly started = performance.now();
  private providerMs = 0;

  addProviderCall(ms: number): void {
    this.providerMs += ms;
  }

  header(): string {
    const total = performance.now() - this.started;
    // Calls made side by side may add up to more than the wall time.
    const provider = Math.min(this.providerMs, total);
    return `platform;dur=${(total - provider).toFixed(1)}, provider;dur=${provider.toFixed(1)}`;
  }
}

// The request's timing rides in OpenTelemetry's context, which the process's
// tracing (startTracing) carries across awaits with AsyncLocalStorage: an
// AsyncLocalStorage of its own would make every promise of every request
// pay a second async hook.
const requestTimingKey = createContextKey("onerouter.request_timing");

// Counts `call` as provider time of the request it is made for, if any.
export async function timeProviderCall<T>(call: () => Promise<T>): Promise<T> {
  const timing = context.active().getValue(requestTimingKey) as RequestTiming | undefined;
  if (!timing) return call();
  const started = performance.now();
  try {
    return await call();
  } finally {
    timing.addProviderCall(performance.now() - started);
  }
}

// Outermost, so the time covers authentication and limits too. A unary
// answer carries the header; gRPC answers carry the trailer as well, and a
// stream only the trailer, since its headers leave before the work is done.
export const serverTimingInterceptor: Interceptor = (next) => async (req) => {
  const timing = new RequestTiming();
  const grpc = req.header.get("content-type")?.startsWith("application/grpc") ?? false;
  try {
    const res = await context.with(context.active().setValue(requestTimingKey, timing), () => next(req));
    if (!res.stream) {
      const value = timing.header();
      res.header.set(serverTimingHeader, value);
      if (grpc) res.trailer.set(serverTimingHeader, value);
      return res;
    }
    return {
      ...res,
      message: (async function* () {
        yield* res.message;
        res.trailer.set(serverTimingHeader, timing.header());
      })(),
    };
  } catch (err) {
    const error = ConnectError.from(err);
    error.metadata.set(serverTimingHeader, timing.header());
    throw error;
  }
};
