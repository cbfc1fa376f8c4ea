// The file descriptor of grpc.health.v1 (grpc/health/v1/health.proto, as grpc-health-check serves
// it: Check and Watch), for server reflection. Written out because the descriptors proto-loader
// derives through protobufjs leave type names unqualified and rename map entries, which clients such
// as buf curl cannot link ("failed to find service ... in schema").
import { create } from "@bufbuild/protobuf";
import { FieldDescriptorProto_Label, FieldDescriptorProto_Type, FileDescriptorProtoSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";

const OPTIONAL = FieldDescriptorProto_Label.OPTIONAL;

export function healthFileDescriptor(): FileDescriptorProto {
  return create(FileDescriptorProtoSchema, {
    name: "grpc/health/v1/health.proto",
    package: "grpc.health.v1",
    syntax: "proto3",
    messageType: [
      { name: "HealthCheckRequest", field: [{ name: "service", jsonName: "service", number: 1, label: OPTIONAL, type: FieldDescriptorProto_Type.STRING }] },
      {
        name: "HealthCheckResponse",
        field: [
          {
            name: "status",
            jsonName: "status",
            number: 1,
            label: OPTIONAL,
            type: FieldDescriptorProto_Type.ENUM,
            typeName: ".grpc.health.v1.HealthCheckResponse.ServingStatus",
          },
        ],
        enumType: [
          {
            name: "ServingStatus",
            value: [
              { name: "UNKNOWN", number: 0 },
              { name: "SERVING", number: 1 },
              { name: "NOT_SERVING", number: 2 },
              { name: "SERVICE_UNKNOWN", number: 3 },
            ],
          },
        ],
      },
    ],
    service: [
      {
        name: "Health",
        method: [
          { name: "Check", inputType: ".grpc.health.v1.HealthCheckRequest", outputType: ".grpc.health.v1.HealthCheckResponse" },
          { name: "Watch", inputType: ".grpc.health.v1.HealthCheckRequest", outputType: ".grpc.health.v1.HealthCheckResponse", serverStreaming: true },
        ],
      },
    ],
    options: { goPackage: "google.golang.org/grpc/health/grpc_health_v1", javaPackage: "io.grpc.health.v1" },
  });
}
