import { describeMessagingConnectorContract } from "../contract";
import { startTwilioTestBed } from "./connector.testing";

describeMessagingConnectorContract("twilio", startTwilioTestBed, { keepsConnectionsAlive: true });
