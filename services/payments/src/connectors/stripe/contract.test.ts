import { describePaymentConnectorContract } from "../contract";
import { startStripeTestBed } from "./testing";

describePaymentConnectorContract("stripe", startStripeTestBed);
