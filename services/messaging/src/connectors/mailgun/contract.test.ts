import { describeMessagingConnectorContract } from "../contract";
import { startMailgunTestBed } from "./connector.testing";

describeMessagingConnectorContract("mailgun", startMailgunTestBed);
