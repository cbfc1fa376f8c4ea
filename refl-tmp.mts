import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const p = require.resolve("@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto");
const def = grpc.loadPackageDefinition(protoLoader.loadSync(p, { keepCase: true })) as any;
const client = new def.grpc.reflection.v1.ServerReflection("127.0.0.1:50061", grpc.credentials.createInsecure());
const stream = client.ServerReflectionInfo();
stream.on("data", (d: any) => {
  for (const b of d.file_descriptor_response?.file_descriptor_proto ?? []) {
    const s = Buffer.from(b).toString("latin1").replace(/[^\x20-\x7e]/g, ".");
    console.log(b.length, s.slice(0, 60), "| deps:", [...s.matchAll(/[a-z_\/0-9]+\.proto/g)].map((m) => m[0]).join(","));
  }
});
stream.write({ file_containing_symbol: process.argv[2] ?? "taskgrid.v1.TaskService" });
setTimeout(() => { stream.end(); client.close(); }, 500);
