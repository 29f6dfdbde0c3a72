import { describePaymentConnectorContract } from "../contract";
import { startPaypalHarness } from "./connector.testing";

describePaymentConnectorContract("paypal", () => startPaypalHarness(), { keepsConnectionsAlive: true });
