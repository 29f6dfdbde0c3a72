import { create, toBinary, type DescFile } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import * as v1 from "@onerouter/client/gen/grpc/reflection/v1/reflection_pb";
import * as v1alpha from "@onerouter/client/gen/grpc/reflection/v1alpha/reflection_pb";

// gRPC server reflection (grpc.reflection.v1 and the v1alpha that older
// tools still ask for) over every service on the router, so grpcurl,
// grpcui and Postman can list and describe the API without the proto files.
// Descriptors come from the generated code, so they are the served ones.

type Request = v1.ServerReflectionRequest | v1alpha.ServerReflectionRequest;

// The oneof both versions answer with, as plain values.
type Answer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

// google.rpc.Code values the protocol puts in ErrorResponse.
const notFound = 5;
const invalidArgument = 3;

export function registerReflection(router: ConnectRouter): void {
  let index: DescriptorIndex | undefined;
  // Built at the first request, when every service is on the router.
  const descriptors = () => (index ??= new DescriptorIndex(router.handlers.map((h) => h.service.file)));
  router.service(v1.ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) {
        yield create(v1.ServerReflectionResponseSchema, { validHost: req.host, originalRequest: req, messageResponse: answer(descriptors(), req) });
      }
    },
  });
  router.service(v1alpha.ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) {
        yield create(v1alpha.ServerReflectionResponseSchema, { validHost: req.host, originalRequest: req, messageResponse: answer(descriptors(), req) });
      }
    },
  });
}

function answer(index: DescriptorIndex, req: Request): Answer {
  const { messageRequest } = req;
  switch (messageRequest.case) {
    case "listServices":
      return { case: "listServicesResponse", value: { service: index.services.map((name) => ({ name })) } };
    case "fileByFilename":
      return index.filesFrom(index.byName.get(messageRequest.value), `no file ${messageRequest.value}`);
    case "fileContainingSymbol":
      return index.filesFrom(index.bySymbol.get(messageRequest.value), `no symbol ${messageRequest.value}`);
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = messageRequest.value;
      return index.filesFrom(index.byExtension.get(`${containingType}#${extensionNumber}`), `no extension ${extensionNumber} of ${containingType}`);
    }
    case "allExtensionNumbersOfType": {
      const type = messageRequest.value;
      if (!index.bySymbol.has(type)) return error(notFound, `no type ${type}`);
      return { case: "allExtensionNumbersResponse", value: { baseTypeName: type, extensionNumber: index.extensionNumbers.get(type) ?? [] } };
    }
    default:
      return error(invalidArgument, "the request names no question");
  }
}

function error(errorCode: number, errorMessage: string): Answer {
  return { case: "errorResponse", value: { errorCode, errorMessage: errorMessage.slice(0, 300) } };
}

class DescriptorIndex {
  readonly services: string[] = [];
  readonly byName = new Map<string, DescFile>();
  readonly bySymbol = new Map<string, DescFile>();
  readonly byExtension = new Map<string, DescFile>();
  readonly extensionNumbers = new Map<string, number[]>();
  private readonly encoded = new Map<DescFile, Uint8Array>();

  constructor(serviceFiles: DescFile[]) {
    for (const file of serviceFiles) this.add(file);
    for (const file of serviceFiles) this.services.push(...file.services.map((s) => s.typeName).filter((name) => !this.services.includes(name)));
    this.services.sort();
  }

  // A file and everything it imports, as the protocol asks: the client
  // needs the whole closure to make sense of the file.
  filesFrom(file: DescFile | undefined, missing: string): Answer {
    if (!file) return error(notFound, missing);
    const closure: DescFile[] = [];
    const visit = (f: DescFile) => {
      if (closure.includes(f)) return;
      closure.push(f);
      f.dependencies.forEach(visit);
    };
    visit(file);
    return { case: "fileDescriptorResponse", value: { fileDescriptorProto: closure.map((f) => this.encode(f)) } };
  }

  private encode(file: DescFile): Uint8Array {
    let bytes = this.encoded.get(file);
    if (!bytes) {
      bytes = toBinary(FileDescriptorProtoSchema, file.proto);
      this.encoded.set(file, bytes);
    }
    return bytes;
  }

  private add(file: DescFile): void {
    if (this.byName.has(file.proto.name)) return;
    this.byName.set(file.proto.name, file);
    for (const service of file.services) {
      this.bySymbol.set(service.typeName, file);
      for (const method of service.methods) this.bySymbol.set(`${service.typeName}.${method.name}`, file);
    }
    const addMessage = (message: DescFile["messages"][number]) => {
      this.bySymbol.set(message.typeName, file);
      for (const field of message.fields) this.bySymbol.set(`${message.typeName}.${field.name}`, file);
      message.nestedMessages.forEach(addMessage);
      for (const nested of message.nestedEnums) this.bySymbol.set(nested.typeName, file);
      message.nestedExtensions.forEach(addExtension);
    };
    const addExtension = (extension: DescFile["extensions"][number]) => {
      this.bySymbol.set(extension.typeName, file);
      const extendee = extension.extendee.typeName;
      this.byExtension.set(`${extendee}#${extension.number}`, file);
      this.extensionNumbers.set(extendee, [...(this.extensionNumbers.get(extendee) ?? []), extension.number]);
    };
    file.messages.forEach(addMessage);
    for (const e of file.enums) this.bySymbol.set(e.typeName, file);
    file.extensions.forEach(addExtension);
    file.dependencies.forEach((dependency) => this.add(dependency));
  }
}
