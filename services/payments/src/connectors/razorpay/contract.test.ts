import { describePaymentConnectorContract } from "../contract";
import { startRazorpayHarness } from "./harness";

describePaymentConnectorContract("razorpay", () => startRazorpayHarness());
