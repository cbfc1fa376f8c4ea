#!/usr/bin/env python3
"""Submit a task to a Taskgrid master and watch it to completion, from Python.

Generates the gRPC stubs from ../../proto at start (grpc_tools.protoc), so it needs only
`python3-grpcio` and `python3-grpc-tools` (Debian) or `pip install grpcio grpcio-tools`.

    python3 examples/python/taskgrid_example.py --master 127.0.0.1:50051 -- echo hello

With auth on, pass a submitter token (--token, or TASKGRID_TOKEN): it is sent on every call as the
metadata `authorization: Bearer <token>`. Exits with the task's exit code.
"""
import argparse
import importlib
import os
import sys
import tempfile

import grpc
from grpc_tools import protoc

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "proto"))
PROTO_FILES = ["types.proto", "task.proto", "task_service.proto", "admin_service.proto", "worker_service.proto"]


def load_stubs():
    """Compile proto/taskgrid/v1/*.proto into a temp dir and import the generated modules."""
    out = tempfile.mkdtemp(prefix="taskgrid-py-")
    well_known = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    args = ["protoc", f"-I{PROTO_ROOT}", f"--python_out={out}", f"--grpc_python_out={out}"]
    if os.path.isdir(well_known):
        args.append(f"-I{well_known}")
    args += [os.path.join(PROTO_ROOT, "taskgrid", "v1", f) for f in PROTO_FILES]
    if protoc.main(args) != 0:
        sys.exit("protoc failed")
    sys.path.insert(0, out)
    pb = importlib.import_module("taskgrid.v1.task_service_pb2")
    task_pb = importlib.import_module("taskgrid.v1.task_pb2")
    types_pb = importlib.import_module("taskgrid.v1.types_pb2")
    rpc = importlib.import_module("taskgrid.v1.task_service_pb2_grpc")
    return pb, task_pb, types_pb, rpc


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--master", default=os.environ.get("TASKGRID_MASTER", "127.0.0.1:50051"))
    parser.add_argument("--tag", action="append", default=[], help="required worker tag (repeatable)")
    parser.add_argument("--token", default=os.environ.get("TASKGRID_TOKEN", ""), help="API token (auth on)")
    parser.add_argument("command", nargs="+", help="the command to run, after --")
    opts = parser.parse_args()

    pb, task_pb, types_pb, rpc = load_stubs()
    # gRPC metadata keys are lowercase; the master reads exactly one "authorization" value.
    metadata = [("authorization", f"Bearer {opts.token}")] if opts.token else []
    with grpc.insecure_channel(opts.master) as channel:
        tasks = rpc.TaskServiceStub(channel)
        spec = task_pb.TaskSpec(
            name="python-example",
            command=opts.command,
            required_tags=opts.tag,
            queue_class=types_pb.QUEUE_CLASS_DEFAULT,
            priority=types_pb.PRIORITY_NORMAL,
        )
        try:
            task = tasks.SubmitTask(pb.SubmitTaskRequest(spec=spec), metadata=metadata, timeout=30).task
        except grpc.RpcError as err:
            sys.exit(f"error: {err.code().name}: {err.details()}")
        print(f"submitted {task.id}", file=sys.stderr)

        terminal = {types_pb.TASK_STATE_SUCCEEDED, types_pb.TASK_STATE_FAILED, types_pb.TASK_STATE_CANCELED}
        for response in tasks.WatchTasks(pb.WatchTasksRequest(task_ids=[task.id]), metadata=metadata):
            event = response.event
            print(f"{types_pb.TaskState.Name(event.state)} {event.worker_id}".rstrip(), file=sys.stderr)
            if event.state in terminal:
                break

        done = tasks.GetTask(pb.GetTaskRequest(task_id=task.id), metadata=metadata, timeout=30).task
        sys.stdout.write(done.result.output_tail)
        if done.state == types_pb.TASK_STATE_SUCCEEDED:
            return 0
        return done.result.exit_code if done.result.exit_code > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
