import { describeMessagingConnectorContract } from "../contract";
import { startVonageTestBed } from "./connector.testing";

describeMessagingConnectorContract("vonage", startVonageTestBed);
