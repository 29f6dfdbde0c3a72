import { describeMessagingConnectorContract } from "../contract";
import { startMailgunTestBed } from "./testing";

describeMessagingConnectorContract("mailgun", startMailgunTestBed);
