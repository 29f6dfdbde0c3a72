import { paymentConnectors } from "@onerouter/payments";
import { ProviderOutbound, type ConnectorContext } from "@onerouter/routing";
import { secretKey, type CallerReply, type CallerRequest } from "./protocol";

// The platform's side of the benchmark: Stripe payments made one after
// another through the connector, with a transport per call as the platform
// makes them.

const stripe = paymentConnectors().find((r) => r.connector.name === "stripe")!.connector;
let outbound: ProviderOutbound | undefined;
let counter = 0;

async function slice({ mode, calls, baseUrl }: CallerRequest): Promise<CallerReply> {
  outbound ??= new ProviderOutbound({ baseUrls: [baseUrl], allowedCidrs: ["127.0.0.0/8"] });
  const settings = { base_url: baseUrl };
  const latenciesMs: number[] = [];
  const cpu = process.cpuUsage();
  for (let i = 0; i < calls; i += 1) {
    const transport = outbound.transport(settings, settings);
    const ctx: ConnectorContext = {
      credentials: { secret_key: secretKey },
      settings,
      timeoutMs: 10_000,
      transport: mode === "fresh" ? { ...transport, keptAlive: transport.agents } : transport,
    };
    counter += 1;
    const started = performance.now();
    const result = await stripe.createPayment(ctx, {
      attemptId: `att_bench_${process.pid}_${counter}`,
      paymentId: `pay_bench_${counter}`,
      amount: 2500n,
      currency: "USD",
      captureMethod: "automatic",
      paymentMethodToken: "pm_card_visa",
      metadata: {},
    });
    latenciesMs.push(performance.now() - started);
    if (result.status !== "succeeded") throw new Error(`payment ${result.status}`);
  }
  const used = process.cpuUsage(cpu);
  return { latenciesMs, cpuMs: (used.user + used.system) / 1000 };
}

process.on("message", (request: CallerRequest) => {
  slice(request).then(
    (reply) => process.send!(reply),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
});
