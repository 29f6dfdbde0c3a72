import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { create, createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestOneRouter, type TestOneRouter } from "../test/index";

// Server reflection as grpcurl and grpcui use it: a grpc-js client built
// from the reflection protos at test time, asking the server with no key.

const repoRoot = path.resolve(import.meta.dirname, "../../..");

interface ReflectionResponse {
  listServicesResponse?: { service: { name: string }[] };
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  errorResponse?: { errorCode: number; errorMessage: string };
}

function reflectionClient(port: number, version: "v1" | "v1alpha"): grpc.Client {
  const definition = protoLoader.loadSync(`grpc/reflection/${version}/reflection.proto`, {
    includeDirs: [path.join(repoRoot, "node_modules/@grpc/reflection/build/proto")],
  });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    grpc: { reflection: Record<string, { ServerReflection: grpc.ServiceClientConstructor }> };
  };
  return new pkg.grpc.reflection[version]!.ServerReflection(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}

// Asks each question on one stream, as grpcurl does, and collects the answers in order.
function ask(client: grpc.Client, questions: object[]): Promise<ReflectionResponse[]> {
  return new Promise((resolve, reject) => {
    const answers: ReflectionResponse[] = [];
    const call = (client as unknown as { serverReflectionInfo(): grpc.ClientDuplexStream<object, ReflectionResponse> }).serverReflectionInfo();
    call.on("data", (answer: ReflectionResponse) => answers.push(answer));
    call.on("error", reject);
    call.on("end", () => resolve(answers));
    for (const question of questions) call.write({ host: "", ...question });
    call.end();
  });
}

// Every service the protos declare, by full name.
function declaredServices(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".proto"))
    .flatMap((name) => {
      const text = readFileSync(path.join(dir, name), "utf8");
      const pkg = /^package ([\w.]+);/m.exec(text)![1];
      return [...text.matchAll(/^service (\w+) \{/gm)].map((m) => `${pkg}.${m[1]}`);
    });
}

// The files in an order a registry can load: each after the files it imports.
function importsFirst(files: FileDescriptorProto[]): FileDescriptorProto[] {
  const ordered: FileDescriptorProto[] = [];
  const visit = (file: FileDescriptorProto) => {
    if (ordered.includes(file)) return;
    for (const name of file.dependency) visit(files.find((f) => f.name === name)!);
    ordered.push(file);
  };
  files.forEach(visit);
  return ordered;
}

describe("gRPC server reflection", () => {
  let app: TestOneRouter;
  let client: grpc.Client;

  beforeAll(async () => {
    app = await startTestOneRouter();
    client = reflectionClient(app.server.port, "v1");
  });
  afterAll(async () => {
    client?.close();
    await app?.close();
  });

  it("lists every service the protos declare, without a key", async () => {
    const [answer] = await ask(client, [{ listServices: "" }]);
    const listed = answer!.listServicesResponse!.service.map((s) => s.name);
    const declared = declaredServices(path.join(repoRoot, "proto"));
    expect(declared.length).toBeGreaterThan(10);
    expect(listed).toEqual(expect.arrayContaining([...declared, "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"]));
    expect(new Set(listed).size).toBe(listed.length);
  });

  it("describes a method with the file that declares it and every file that file imports", async () => {
    const [answer] = await ask(client, [{ fileContainingSymbol: "onerouter.payments.v1.PaymentService.CreatePayment" }]);
    const files = answer!.fileDescriptorResponse!.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
    expect(files[0]!.name).toBe("onerouter/payments/v1/payments.proto");
    const method = files[0]!.service.find((s) => s.name === "PaymentService")!.method.find((m) => m.name === "CreatePayment")!;
    expect(method).toMatchObject({ inputType: ".onerouter.payments.v1.CreatePaymentRequest", outputType: ".onerouter.payments.v1.CreatePaymentResponse" });
    // The closure is complete: a registry resolves every type the method uses.
    const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: importsFirst(files) }));
    const request = registry.getMessage("onerouter.payments.v1.CreatePaymentRequest")!;
    expect(request.fields.map((f) => f.name)).toEqual(expect.arrayContaining(["amount", "currency"]));
    expect(registry.getMessage("google.protobuf.Timestamp")).toBeDefined();
  });

  it("finds files by name and types by symbol, and answers what it does not have with NOT_FOUND", async () => {
    const [byName, byMessage, missing] = await ask(client, [
      { fileByFilename: "onerouter/common/v1/common.proto" },
      { fileContainingSymbol: "onerouter.payments.v1.Payment" },
      { fileContainingSymbol: "onerouter.nothing.v1.Nope" },
    ]);
    expect(fromBinary(FileDescriptorProtoSchema, byName!.fileDescriptorResponse!.fileDescriptorProto[0]!).name).toBe("onerouter/common/v1/common.proto");
    expect(fromBinary(FileDescriptorProtoSchema, byMessage!.fileDescriptorResponse!.fileDescriptorProto[0]!).name).toBe("onerouter/payments/v1/payments.proto");
    expect(missing!.errorResponse).toMatchObject({ errorCode: grpc.status.NOT_FOUND });
  });

  it("answers the v1alpha protocol older tools speak", async () => {
    const alpha = reflectionClient(app.server.port, "v1alpha");
    try {
      const [answer] = await ask(alpha, [{ listServices: "" }]);
      expect(answer!.listServicesResponse!.service.map((s) => s.name)).toContain("onerouter.payments.v1.PaymentService");
    } finally {
      alpha.close();
    }
  });
});
