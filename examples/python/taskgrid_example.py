#!/usr/bin/env python3
"""Submit a task to a Taskgrid master and watch it to completion, from Python.

Generates the gRPC stubs from ../../proto at start (grpc_tools.protoc), so it needs only
`python3-grpcio` and `python3-grpc-tools` (Debian) or `pip install grpcio grpcio-tools`.

    python3 examples/python/taskgrid_example.py --master 127.0.0.1:50051 -- echo hello

With auth on, pass a submitter token (--token, or TASKGRID_TOKEN): it is sent on every call as the
metadata `authorization: Bearer <token>`. Exits with the task's exit code.

With several masters (one leader, standbys), give them all: `--master a:50051,b:50051`. A standby
answers UNAVAILABLE naming the leader in the `taskgrid-leader` trailing metadata; the example goes
there, or to the next master when none is named (a failover takes a few seconds), until the
call's deadline. The task is submitted with an idempotency key, so that sending it again after a
lost answer never creates a second task.
"""
import argparse
import importlib
import os
import sys
import tempfile
import time
import uuid

import grpc
from grpc_tools import protoc

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "proto"))
# Every file of the API (the services import one another's messages: logs, history, ...).
PROTO_FILES = sorted(f for f in os.listdir(os.path.join(PROTO_ROOT, "taskgrid", "v1")) if f.endswith(".proto"))


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


LEADER_METADATA_KEY = "taskgrid-leader"
DEADLINE_S = 30


def leader_hint(err):
    """The leader's "host:port" that a standby sent in the trailing metadata, or None."""
    for key, value in err.trailing_metadata() or ():
        if key == LEADER_METADATA_KEY and value.strip():
            return value.strip()
    return None


def refusal_kind(err, hint):
    """How an UNAVAILABLE call was refused: "not-leader", "not-sent" or "maybe-done"."""
    details = err.details() or ""
    if hint is not None or details.startswith("this master is a standby"):
        return "not-leader"  # a standby: it did nothing
    if details.startswith("failed to connect to all addresses"):
        return "not-sent"  # no connection: the call never left this process
    return "maybe-done"  # e.g. the connection dropped mid-call: a leader may have acted on it


def may_retry(kind, repeatable):
    """Whether an UNAVAILABLE call may be sent again (the rule of the Node client).

    A standby's refusal and a call that was never sent are always safe to repeat. Anything else may
    have been carried out by a leader, so it is repeated only when doing it twice does what doing
    it once does: a read, or a SubmitTask with an idempotency key.
    """
    return kind != "maybe-done" or repeatable


class Masters:
    """The masters of --master, with one channel each (opened on first use); calls go to the leader."""

    def __init__(self, addresses, stub_class, metadata):
        self.known = list(addresses)
        self.current = 0
        self.stub_class = stub_class
        self.metadata = metadata
        self.channels = {}

    @property
    def target(self):
        return self.known[self.current]

    def stub(self, address):
        if address not in self.channels:
            self.channels[address] = grpc.insecure_channel(address)
        return self.stub_class(self.channels[address])

    def close(self):
        for channel in self.channels.values():
            channel.close()

    def call(self, method, request, repeatable):
        """A unary call on the leader, following redirects until DEADLINE_S has passed."""
        deadline = time.monotonic() + DEADLINE_S
        attempts = Attempts(self, deadline)
        while True:
            target = self.target
            try:
                return getattr(self.stub(target), method)(request, metadata=self.metadata, timeout=max(deadline - time.monotonic(), 0.001))
            except grpc.RpcError as err:
                wait = attempts.next_wait(err, target, repeatable)
                if wait is None:
                    raise
                time.sleep(wait)

    def watch(self, request):
        """WatchTasks responses; a stream that fails UNAVAILABLE is opened again on the leader.

        The watch sends the tasks' current states first, so nothing is missed (a state may repeat).
        """
        attempts = None
        while True:
            target = self.target
            try:
                for response in self.stub(target).WatchTasks(request, metadata=self.metadata):
                    attempts = None  # the master answered: a later failure starts a new series
                    yield response
                return
            except grpc.RpcError as err:
                attempts = attempts or Attempts(self, time.monotonic() + DEADLINE_S)
                wait = attempts.next_wait(err, target, True)
                if wait is None:
                    raise
                time.sleep(wait)


class Attempts:
    """Where and when one call tries next: the named leader at once, else the next master, pausing
    between rounds (50 ms doubling to 1 s); it gives up at the deadline, or after a round in which
    no master could be connected to (no failover is under way then: the masters are down)."""

    def __init__(self, masters, deadline):
        self.masters = masters
        self.deadline = deadline
        self.tried = set()
        self.none_reached = True
        self.pause = 0.05

    def next_wait(self, err, target, repeatable):
        """Seconds to wait before the next try (the masters point at its target), or None to give up."""
        if err.code() != grpc.StatusCode.UNAVAILABLE:
            return None
        hint = leader_hint(err)
        kind = refusal_kind(err, hint)
        if not may_retry(kind, repeatable):
            return None
        self.tried.add(target)
        self.none_reached = self.none_reached and kind == "not-sent"
        known = self.masters.known
        if hint is not None:
            if hint not in known:
                known.append(hint)
            self.masters.current = known.index(hint)
        elif self.masters.target == target:
            self.masters.current = (known.index(target) + 1) % len(known)
        wait = 0.0
        if self.masters.target in self.tried:  # a round is over
            if self.none_reached:
                return None
            wait, self.pause = self.pause, min(self.pause * 2, 1.0)
            self.tried.clear()
            self.none_reached = True
        left = self.deadline - time.monotonic() - 0.025  # keep time for one last try
        return min(wait, left) if left > 0 else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--master", default=os.environ.get("TASKGRID_MASTER", "127.0.0.1:50051"), help="host:port, or several comma-separated")
    parser.add_argument("--tag", action="append", default=[], help="required worker tag (repeatable)")
    parser.add_argument("--token", default=os.environ.get("TASKGRID_TOKEN", ""), help="API token (auth on)")
    parser.add_argument("command", nargs="+", help="the command to run, after --")
    opts = parser.parse_args()
    addresses = [a.strip() for a in opts.master.split(",") if a.strip()]
    if not addresses:
        sys.exit("error: --master: no address given")

    pb, task_pb, types_pb, rpc = load_stubs()
    # gRPC metadata keys are lowercase; the master reads exactly one "authorization" value.
    metadata = [("authorization", f"Bearer {opts.token}")] if opts.token else []
    masters = Masters(addresses, rpc.TaskServiceStub, metadata)
    try:
        spec = task_pb.TaskSpec(
            name="python-example",
            command=opts.command,
            required_tags=opts.tag,
            queue_class=types_pb.QUEUE_CLASS_DEFAULT,
            priority=types_pb.PRIORITY_NORMAL,
            idempotency_key=f"python-example-{uuid.uuid4()}",
        )
        try:
            task = masters.call("SubmitTask", pb.SubmitTaskRequest(spec=spec), repeatable=True).task
        except grpc.RpcError as err:
            sys.exit(f"error: {err.code().name}: {err.details()}")
        print(f"submitted {task.id}", file=sys.stderr)

        terminal = {types_pb.TASK_STATE_SUCCEEDED, types_pb.TASK_STATE_FAILED, types_pb.TASK_STATE_CANCELED}
        last_line = None
        for response in masters.watch(pb.WatchTasksRequest(task_ids=[task.id])):
            event = response.event
            line = f"{types_pb.TaskState.Name(event.state)} {event.worker_id}".rstrip()
            if line != last_line:  # a reopened watch repeats the current state
                print(line, file=sys.stderr)
                last_line = line
            if event.state in terminal:
                break

        done = masters.call("GetTask", pb.GetTaskRequest(task_id=task.id), repeatable=True).task
        sys.stdout.write(done.result.output_tail)
        if done.state == types_pb.TASK_STATE_SUCCEEDED:
            return 0
        return done.result.exit_code if done.result.exit_code > 0 else 1
    finally:
        masters.close()


if __name__ == "__main__":
    sys.exit(main())
