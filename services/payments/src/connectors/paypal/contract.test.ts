import { describePaymentConnectorContract } from "../contract";
import { startPaypalHarness } from "./harness";

describePaymentConnectorContract("paypal", () => startPaypalHarness());
