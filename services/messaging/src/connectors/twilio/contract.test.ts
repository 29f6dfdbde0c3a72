import { describeMessagingConnectorContract } from "../contract";
import { startTwilioTestBed } from "./testing";

describeMessagingConnectorContract("twilio", startTwilioTestBed);
