import { describeMessagingConnectorContract } from "../contract";
import { startSendGridTestBed } from "./connector.testing";

describeMessagingConnectorContract("sendgrid", startSendGridTestBed);
