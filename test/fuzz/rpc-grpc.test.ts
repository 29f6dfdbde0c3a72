import { describeRpcFuzz } from "./rpc-suite";

describeRpcFuzz({
  suite: "fuzz-rpc-grpc",
  source: "test/fuzz/rpc-grpc.test.ts",
  over: "gRPC and gRPC-Web, h2c and HTTP/1.1",
  protocols: ["grpc", "grpc-web", "grpc+json", "grpc-web+json"],
  httpVersions: ["h2", "h1"],
});
