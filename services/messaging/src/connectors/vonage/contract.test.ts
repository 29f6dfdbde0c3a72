import { describeMessagingConnectorContract } from "../contract";
import { startVonageTestBed } from "./testing";

describeMessagingConnectorContract("vonage", startVonageTestBed);
