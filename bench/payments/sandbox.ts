import { startSandboxProvider } from "@onerouter/sandbox";
import type { SandboxReply, SandboxRequest } from "./protocol";

// The payments benchmark's sandbox provider, in a process of its own as any
// provider is: the direct call then crosses a process boundary, as the
// server's call to it does, instead of being answered by the caller's own
// event loop. Driven by load.ts over IPC.

const send = (reply: SandboxReply) => process.send!(reply);

async function main() {
  const sandbox = await startSandboxProvider({ host: "127.0.0.1" });
  process.on("message", (message: SandboxRequest) => {
    switch (message.type) {
      case "cpu": {
        const { user, system } = process.cpuUsage();
        send({ type: "cpu", ms: (user + system) / 1000 });
        return;
      }
      case "stop":
        void sandbox.close().then(() => process.exit(0));
    }
  });
  // The load generator's end is this process's end too.
  process.on("disconnect", () => process.exit(0));
  send({ type: "ready", url: sandbox.url });
}

void main();
