export { allMigrations, startOneRouter, type OneRouter } from "./app";
