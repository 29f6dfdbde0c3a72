export { consoleDistDir, consolePathPrefix, consoleRoute } from "./route";
