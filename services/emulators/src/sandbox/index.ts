import { startEmulator, type RunningEmulator } from "../harness";
import { sandboxProvider } from "./provider";

export { sandboxEvent, signSandboxEvent, type SandboxEvent } from "./webhooks";

// Starts the sandbox provider in this process, on loopback unless told
// otherwise, so the embedded product has a provider with nothing to install.
export function startSandboxProvider(
  options: { port?: number; host?: string; publicUrl?: string } = {},
): Promise<RunningEmulator> {
  return startEmulator(sandboxProvider({ publicUrl: options.publicUrl }), { port: options.port, host: options.host });
}
