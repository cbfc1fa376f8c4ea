// gRPC server reflection (grpc.reflection.v1 and v1alpha) served from the exact descriptor set
// `buf build` writes (src/gen/taskgrid.binpb), so `buf curl`, grpcurl and Postman see our real
// .proto files, comments included. @grpc/reflection rebuilds descriptors through protobufjs and
// merges every file of a package into one synthetic file whose imports clients cannot resolve
// (buf curl fails with "failed to find service ... in schema"), hence this small implementation.
// grpc.health.v1.Health is described too (master/health-descriptor.ts), so `buf curl
// --list-methods` and grpcurl find the health check like any other service.
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, type DescriptorProto, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { healthFileDescriptor } from "./health-descriptor.js";

const DESCRIPTOR_SET = fileURLToPath(new URL("../src/gen/taskgrid.binpb", import.meta.url));

interface Index {
  files: Map<string, FileDescriptorProto>;
  encoded: Map<string, Uint8Array>;
  symbols: Map<string, string>;
  services: string[];
}

/** The services reflection lists: ours and the standard health check. */
const LISTED_PACKAGE = /^(taskgrid\.|grpc\.health\.v1$)/;
function indexDescriptorSet(bytes: Uint8Array, extra: readonly FileDescriptorProto[]): Index {
  const set = fromBinary(FileDescriptorSetSchema, bytes);
  const index: Index = { files: new Map(), encoded: new Map(), symbols: new Map(), services: [] };
  const addMessage = (prefix: string, m: DescriptorProto, file: string) => {
    const name = `${prefix}.${m.name}`;
    index.symbols.set(name, file);
    m.nestedType.forEach((n) => addMessage(name, n, file));
    m.enumType.forEach((e) => index.symbols.set(`${name}.${e.name}`, file));
  };
  for (const file of [...set.file, ...extra]) {
    index.files.set(file.name, file);
    index.encoded.set(file.name, toBinary(FileDescriptorProtoSchema, file));
    const pkg = file.package;
    file.messageType.forEach((m) => addMessage(pkg, m, file.name));
    file.enumType.forEach((e) => index.symbols.set(`${pkg}.${e.name}`, file.name));
    for (const s of file.service) {
      const name = `${pkg}.${s.name}`;
      index.symbols.set(name, file.name);
      s.method.forEach((m) => index.symbols.set(`${name}.${m.name}`, file.name));
      if (LISTED_PACKAGE.test(pkg)) index.services.push(name);
    }
  }
  return index;
}

/** The file and everything it imports, transitively, dependencies first. */
function withDependencies(index: Index, name: string): Uint8Array[] {
  const out: string[] = [];
  const visit = (n: string) => {
    if (out.includes(n)) return;
    for (const dep of index.files.get(n)?.dependency ?? []) visit(dep);
    out.push(n);
  };
  visit(name);
  return out.map((n) => index.encoded.get(n)!).filter(Boolean);
}

type ReflectionRequest = { host?: string; list_services?: string; file_by_filename?: string; file_containing_symbol?: string; message_request?: string };

function answer(index: Index, req: ReflectionRequest): Record<string, unknown> {
  const base = { valid_host: req.host ?? "", original_request: req };
  const notFound = (what: string) => ({ ...base, error_response: { error_code: grpc.status.NOT_FOUND, error_message: `${what} not found` } });
  switch (req.message_request) {
    case "list_services":
      return { ...base, list_services_response: { service: index.services.map((name) => ({ name })) } };
    case "file_by_filename": {
      const name = req.file_by_filename ?? "";
      return index.files.has(name) ? { ...base, file_descriptor_response: { file_descriptor_proto: withDependencies(index, name) } } : notFound(`file ${name}`);
    }
    case "file_containing_symbol": {
      const file = index.symbols.get((req.file_containing_symbol ?? "").replace(/^\./, ""));
      return file
        ? { ...base, file_descriptor_response: { file_descriptor_proto: withDependencies(index, file) } }
        : notFound(`symbol ${req.file_containing_symbol}`);
    }
    default:
      return { ...base, error_response: { error_code: grpc.status.UNIMPLEMENTED, error_message: `${req.message_request} is not supported` } };
  }
}

/** The part of the loaded reflection.proto package this file uses. */
interface ReflectionPackage {
  grpc: { reflection: Record<string, { ServerReflection: { service: grpc.ServiceDefinition } } | undefined> };
}

/** Adds grpc.reflection.v1 and v1alpha ServerReflection to the server: the taskgrid.v1 services and grpc.health.v1. */
export function addReflection(server: grpc.Server): void {
  const require = createRequire(import.meta.url);
  const index = indexDescriptorSet(readFileSync(DESCRIPTOR_SET), [healthFileDescriptor()]);
  for (const version of ["v1", "v1alpha"]) {
    const protoPath = require.resolve(`@grpc/reflection/build/proto/grpc/reflection/${version}/reflection.proto`);
    const pkg = grpc.loadPackageDefinition(
      protoLoader.loadSync(protoPath, { keepCase: true, longs: Number, defaults: false, oneofs: true }),
    ) as unknown as ReflectionPackage;
    const service = pkg.grpc.reflection[version]!.ServerReflection.service;
    server.addService(service, {
      ServerReflectionInfo: (call: grpc.ServerDuplexStream<ReflectionRequest, unknown>) => {
        call.on("data", (req: ReflectionRequest) => call.write(answer(index, req)));
        call.on("end", () => call.end());
        call.on("error", () => undefined);
      },
    });
  }
}
