import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type { Interceptor } from "@connectrpc/connect";

// What Envoy does for each API call in the mesh, without Envoy: it asks the
// gatekeeper's envoy.service.auth.v3.Authorization/Check over gRPC, built
// here from Envoy's own protos (as @grpc/grpc-js-xds ships them), and sends
// the headers an allowed Check returns on to the service.

const deps = path.resolve(import.meta.dirname, "../../node_modules/@grpc/grpc-js-xds/deps");

interface CheckResponse {
  status?: { code: number; message: string };
  okResponse?: { headers: { header: { key: string; value: string } }[] };
  deniedResponse?: { status?: { code: string }; body: string };
}

export class CheckDenied extends Error {
  constructor(readonly response: CheckResponse) {
    super(`the gatekeeper denied the call (${response.status?.code}): ${response.deniedResponse?.body ?? ""}`);
  }
}

export interface Gateway {
  // The headers Envoy would set on a call to `path` that carries `headers`.
  check(path: string, headers: Record<string, string>): Promise<Record<string, string>>;
  // A Connect interceptor doing that before each call.
  interceptor: Interceptor;
  close(): void;
}

// `clientAddress` is the peer Envoy would report for every call.
export function gatewayTo(gatekeeperAddress: string, clientAddress = "127.0.0.1"): Gateway {
  const definition = protoLoader.loadSync("envoy/service/auth/v3/external_auth.proto", {
    includeDirs: ["envoy-api", "xds", "googleapis", "protoc-gen-validate"].map((dir) => path.join(deps, dir)),
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    envoy: { service: { auth: { v3: { Authorization: grpc.ServiceClientConstructor } } } };
  };
  const client = new loaded.envoy.service.auth.v3.Authorization(gatekeeperAddress, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    Check(request: object, done: (err: grpc.ServiceError | null, response: CheckResponse) => void): void;
  };
  const check = (requestPath: string, headers: Record<string, string>) =>
    new Promise<Record<string, string>>((resolve, reject) => {
      const request = {
        attributes: {
          source: { address: { socketAddress: { address: clientAddress, portValue: 40000 } } },
          request: {
            http: { id: "1", method: "POST", path: requestPath, host: "onerouter.test", scheme: "http", protocol: "HTTP/2", headers },
          },
        },
      };
      client.Check(request, (err, response) => {
        if (err) return reject(err);
        if (response.status?.code !== 0 || !response.okResponse) return reject(new CheckDenied(response));
        resolve(Object.fromEntries(response.okResponse.headers.map(({ header }) => [header.key, header.value])));
      });
    });
  return {
    check,
    interceptor: (next) => async (req) => {
      const presented = Object.fromEntries(["authorization", "cookie", "onerouter-environment"].flatMap((name) => {
        const value = req.header.get(name);
        return value === null ? [] : [[name, value]];
      }));
      const url = new URL(req.url);
      for (const [name, value] of Object.entries(await check(url.pathname, { ...presented, "content-type": "application/grpc" }))) {
        req.header.set(name, value);
      }
      return next(req);
    },
    close: () => client.close(),
  };
}
