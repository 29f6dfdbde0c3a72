import { describePaymentConnectorContract } from "../contract";
import { startStripeTestBed } from "./connector.testing";

describePaymentConnectorContract("stripe", startStripeTestBed, { keepsConnectionsAlive: true });
