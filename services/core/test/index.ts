export { createTestDatabase, createTestDatabaseUrl, describeEachEngine, postgresAvailable, storageEngines, type StorageEngine } from "./database";
export { goneInstanceId, leaveClaimBehind } from "./idempotency";
export { indexConditionsOf } from "./query-plans";
export { notificationBackends } from "./notifications";
