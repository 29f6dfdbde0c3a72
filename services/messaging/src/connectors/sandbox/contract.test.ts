import { describeMessagingConnectorContract } from "../contract";
import { sandboxEmailConnector, sandboxSmsConnector } from "./index";
import { startSandboxTestBed } from "./testing";

describeMessagingConnectorContract("sandbox_sms", () => startSandboxTestBed(sandboxSmsConnector));
describeMessagingConnectorContract("sandbox_email", () => startSandboxTestBed(sandboxEmailConnector));
