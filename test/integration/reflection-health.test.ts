// grpc.health.v1.Health is described by server reflection (issue 17), like the taskgrid.v1
// services: listed, its file resolvable by symbol, and `buf curl --list-methods` (the client the
// docs use) finds Check and Watch. Real master over loopback.
import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { promisify } from "node:util";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ROOT } from "../helpers/processes.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

let tm: TestMaster;
test.before(async () => {
  tm = await startTestMaster();
});
test.after(async () => {
  await tm.cleanup();
});

interface ReflectionStream {
  write(req: object): void;
  on(event: "data", listener: (answer: Record<string, any>) => void): void;
  end(): void;
}

test("reflection lists grpc.health.v1.Health and serves its file by symbol", async () => {
  const require = createRequire(import.meta.url);
  const reflectionProto = require.resolve("@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto");
  const def = grpc.loadPackageDefinition(protoLoader.loadSync(reflectionProto, { keepCase: true })) as any;
  const client = new def.grpc.reflection.v1.ServerReflection(tm.address, grpc.credentials.createInsecure());
  const stream: ReflectionStream = client.ServerReflectionInfo();
  const answers: Record<string, any>[] = [];
  const three = new Promise<void>((resolve) => stream.on("data", (d) => (answers.push(d), answers.length === 3 && resolve())));
  stream.write({ list_services: "" });
  stream.write({ file_containing_symbol: "grpc.health.v1.Health" });
  stream.write({ file_containing_symbol: "grpc.health.v1.HealthCheckResponse.ServingStatus" });
  await three;
  stream.end();
  client.close();
  const names = answers[0].list_services_response.service.map((s: { name: string }) => s.name);
  assert.ok(names.includes("grpc.health.v1.Health"), String(names));
  assert.ok(names.includes("taskgrid.v1.TaskService"), String(names));
  for (const answer of answers.slice(1)) {
    const [file] = answer.file_descriptor_response.file_descriptor_proto.map((b: Buffer) => fromBinary(FileDescriptorProtoSchema, b));
    assert.is(file.name, "grpc/health/v1/health.proto");
    assert.equal(
      file.service[0].method.map((m: { name: string }) => m.name),
      ["Check", "Watch"],
    );
  }
});

test("buf curl --list-methods finds the health check through reflection", async () => {
  const { stdout } = await promisify(execFile)(
    `${ROOT}node_modules/.bin/buf`,
    ["curl", "--protocol", "grpc", "--http2-prior-knowledge", "--list-methods", `http://${tm.address}`],
    {
      cwd: ROOT,
    },
  );
  const methods = stdout.split("\n");
  assert.ok(methods.includes("grpc.health.v1.Health/Check"), stdout);
  assert.ok(methods.includes("grpc.health.v1.Health/Watch"), stdout);
  assert.ok(methods.includes("taskgrid.v1.TaskService/GetTask"), stdout);
});

test.run();
