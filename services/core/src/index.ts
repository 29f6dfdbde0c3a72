// Core's surface: the infrastructure every room builds on, named so an
// import says what a room needs.
export { type Config, ConfigError, loadConfig } from "./config";
export { type Caller, callerKey, remoteAddressKey } from "./context";
export { apiError, createErrorInterceptor, errorDomain, failedPrecondition, hasErrorInfo, invalidArgument, normalizeError, notFound, outgoing, rateLimited, unimplemented } from "./errors";
export { newId, randomToken } from "./ids";
export { environmentFromName, environmentName, generateApiKey, hashApiKey, hashesEqual, parseApiKey } from "./keys";
export { createLogger, type Logger } from "./logging";
export { createMetrics, type Metrics } from "./metrics";
export { currencyExponent, fromDecimalString, isCurrencyCode, isKnownCurrency, toDecimalString } from "./money";
export { decodePageToken, encodePageToken, type PageCursor, type PageRequest, pageSize, paginate, whereCreatedIn } from "./pagination";
export { type HttpHandler, type HttpRoute, type RunningServer, type ServerOptions, startServer } from "./server";
export { requireCaller, servicePartially } from "./services";
export { type Database, type DatabaseOptions, type Knex, type Migration, openDatabase } from "./db/database";
export { DataFolderBusyError, dataFolderHolder, type DataFolderHolder, type DataFolderLock, lockDataFolder } from "./db/data-folder-lock";
export { maskSecret, newDataKey, open, seal } from "./crypto";
export { masterKeyId, MasterKeyring } from "./master-keys";
export { appendEvent, type EventInit, eventTypeName, eventTypeNames, outboxMigrations } from "./outbox";
export { OutboxRelay, type OutboxRelayOptions } from "./outbox-relay";
export { Poller } from "./poller";
export { connectEventStream, type EventStream, eventStreamName, eventSubject, eventSubjectPrefix } from "./event-stream";
export { type BindResource, createIdempotency, type Idempotency, type IdempotencyClaim, idempotencyKeyHeader, idempotencyMigrations, type IdempotencyOptions, idempotentReplayedHeader, noIdempotencyClaim } from "./idempotency";
export { type JsonColumn, jsonColumn } from "./json-column";
export { type Contact, erasedMark, isContact, maskInBinaryColumn, maskInCoreRecords } from "./contact-erasure";
export { maxLength, rejectNulCharacters, requireId, validMetadata, validTimeRange } from "./validation";
export { type ProcessLiveness, startProcessLiveness } from "./process-liveness";
export { forbiddenDestinationCode, ForbiddenDestinationError, guardedAgents, type GuardedAgents, type GuardOptions } from "./outbound/guarded-agents";
export { type Cidr, forbiddenDestination, parseCidr, parseIp } from "./outbound/addresses";
export { httpUrl, pinnedLookup, type ResolvedAddress, vetDestination } from "./outbound/destinations";
