export { addEndpoint, addTenant, appendEvents, countWhere, discardNats, migrated, testMasterKey, transportMigrations, waitFor } from "./fixtures";
export { insertDelivery, insertEndpoint, insertTenant, sleep, startReceiver, type ReceivedRequest, type Receiver, type Reply, type Responder } from "./receivers";
export { activeSecrets, type StoredSecret } from "../src/secrets";
export { startTransport, transports, type RunningTransport, type Transport } from "./transports";
