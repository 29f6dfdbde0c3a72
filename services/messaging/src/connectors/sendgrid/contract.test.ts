import { describeMessagingConnectorContract } from "../contract";
import { startSendGridTestBed } from "./testing";

describeMessagingConnectorContract("sendgrid", startSendGridTestBed);
