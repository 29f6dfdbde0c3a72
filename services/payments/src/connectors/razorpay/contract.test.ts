import { describePaymentConnectorContract } from "../contract";
import { startRazorpayHarness } from "./connector.testing";

describePaymentConnectorContract("razorpay", () => startRazorpayHarness(), { keepsConnectionsAlive: true });
