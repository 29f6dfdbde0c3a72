import { startEmulator, type RunningEmulator } from "../emulator-harness";
import { sandboxProvider } from "./provider";

export { sandboxEvent, signSandboxEvent, type SandboxEvent } from "./webhooks";

export interface RunningSandbox extends RunningEmulator {
  // How many messages the account with `apiKey` took for an attempt, asked
  // in process so it answers while the sandbox is down too.
  messagesForAttempt(apiKey: string, attemptId: string): number;
}

// Starts the sandbox provider in this process, on loopback unless told
// otherwise, so the embedded product has a provider with nothing to install.
export async function startSandboxProvider(
  options: { port?: number; host?: string; publicUrl?: string } = {},
): Promise<RunningSandbox> {
  const provider = sandboxProvider({ publicUrl: options.publicUrl });
  const running = await startEmulator(provider, { port: options.port, host: options.host });
  return { ...running, messagesForAttempt: provider.messagesForAttempt };
}
