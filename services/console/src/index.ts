export { consoleDistDir, consolePathPrefix, consoleRoute, docsRoute } from "./route";
