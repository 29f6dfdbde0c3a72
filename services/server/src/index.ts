export { allMigrations, startOneRouter, type OneRouter } from "./app";
export { devConfigDefaults, startDev, type DevEnvironment } from "./dev";
export { heapGrowingPercent, limitHeapGrowth } from "./heap-growth";
