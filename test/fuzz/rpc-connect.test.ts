import { describeRpcFuzz } from "./rpc-suite";

describeRpcFuzz({
  suite: "fuzz-rpc-connect",
  source: "test/fuzz/rpc-connect.test.ts",
  over: "Connect JSON and binary, HTTP/1.1 and h2c",
  protocols: ["connect-json", "connect-proto"],
  httpVersions: ["h1", "h2"],
});
