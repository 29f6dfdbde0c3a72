export { builtInSandboxSettings, callSandbox, newSandboxApiKey, sandboxWebhookRejected, verifiedSandboxEvent, verifySandboxSignature, type BuiltInSandbox, type SandboxCall } from "./client";
export { ensureSandboxDefaults, sandboxProviders } from "./defaults";
export {
  postWebhook,
  startEmulator,
  type EmulatorReply,
  type EmulatorRequest,
  type FailureMode,
  type FailureSettings,
  type ProviderEmulator,
  type RunningEmulator,
} from "./emulator-harness";
export { sandboxEvent, signSandboxEvent, startSandboxProvider, type RunningSandbox, type SandboxEvent } from "./server/index";
export { sandboxApprovedToken } from "./server/payments";
export { sandboxProvider } from "./server/provider";
export { sandboxRoom, type SandboxRoom, type SandboxRoomDeps } from "./room";
