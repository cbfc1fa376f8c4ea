#!/usr/bin/env python3
"""A minimal Taskgrid worker in Python, over the agent protocol (WorkerService.Connect).

One bidirectional stream: it sends `register`, then a `heartbeat` with telemetry at the interval
the master answers; it runs each `assign` with subprocess and reports `started`, `progress`
(stdout lines `::progress 42 message`) and `finished`; it honours `cancel` (SIGTERM to the
process group, SIGKILL after the grace period) and `drain` (no new work, exit 0 once idle).
SIGINT/SIGTERM stop it cleanly: running attempts are killed and reported LOST (not CANCELED:
nobody canceled the task). Left out, to stay short: reconnects, pause/resume, timeouts, GPUs.
Stubs are generated from ../../proto at start, as in taskgrid_example.py.

    python3 examples/python/taskgrid_worker.py --master 127.0.0.1:50051 --id py-1 --tags py --max-tasks 2
"""
import argparse
import importlib
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_tools import protoc

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "proto"))
TAIL_BYTES = 64 * 1024  # the master keeps at most 64 KiB of output per attempt
PROGRESS = re.compile(rb"::progress[ \t]+([0-9]+(?:\.[0-9]*)?)[ \t]*(.*?)\s*$")


def load_stubs():
    """Compile proto/taskgrid/v1/*.proto into a temp dir and import the generated modules."""
    out = tempfile.mkdtemp(prefix="taskgrid-py-")
    well_known = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    args = ["protoc", f"-I{PROTO_ROOT}", f"--python_out={out}", f"--grpc_python_out={out}"]
    args += [f"-I{well_known}"] if os.path.isdir(well_known) else []
    # Every file of the API: the protocol imports other files' messages (task, logs, ...).
    api = os.path.join(PROTO_ROOT, "taskgrid", "v1")
    args += [os.path.join(api, f) for f in sorted(os.listdir(api)) if f.endswith(".proto")]
    if protoc.main(args) != 0:
        sys.exit("protoc failed")
    sys.path.insert(0, out)
    return [importlib.import_module(f"taskgrid.v1.{m}") for m in ("worker_service_pb2", "task_pb2", "types_pb2", "worker_service_pb2_grpc")]


pb, task_pb, types_pb, rpc = load_stubs()


def log(message):
    print(f"taskgrid_worker: {message}", file=sys.stderr, flush=True)


def now():
    ts = Timestamp()
    ts.GetCurrentTime()
    return ts


def memory_mib():
    """(used, total) physical memory in MiB."""
    page, total, free = os.sysconf("SC_PAGE_SIZE"), os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_AVPHYS_PAGES")
    return (total - free) * page >> 20, total * page >> 20


class Worker:
    def __init__(self, opts):
        self.opts = opts
        self.outbox = queue.Queue()  # AgentMessages to send, in order; None half-closes the stream
        self.lock = threading.RLock()  # guards running and closing; re-entrant, as a signal handler may take it
        self.running = {}  # attempt id -> [Popen, None or (outcome, message) once we stop it]
        self.draining = False
        self.closing = False
        self.stopped = threading.Event()  # ends the heartbeat loop
        self.error = None

    def requests(self):
        """The request side of the stream: the outbox, until None."""
        while (message := self.outbox.get()) is not None:
            yield message

    def send(self, **body):
        self.outbox.put(pb.AgentMessage(**body))

    def register(self):
        capacity = types_pb.Capacity(cpu_millis=1000 * os.cpu_count(), memory_mib=memory_mib()[1], max_tasks=self.opts.max_tasks)
        self.send(register=pb.Register(worker_id=self.opts.id, hostname=socket.gethostname(), tags=self.opts.tags,
                                       capacity=capacity, agent_version="python-example/1",
                                       instance_id=f"{socket.gethostname()}-{os.getpid()}"))

    def heartbeats(self, interval_s):
        """Liveness and load. The first goes out at once: RTS places work only with fresh telemetry."""
        while True:
            used, total = memory_mib()
            with self.lock:
                running = len(self.running)
            self.send(heartbeat=pb.Heartbeat(telemetry=types_pb.Telemetry(
                sampled_at=now(), cpu_load=os.getloadavg()[0] / os.cpu_count(), memory_used_mib=used,
                memory_total_mib=total, running_attempts=running)))
            if self.stopped.wait(interval_s):
                return

    def serve(self, responses):
        """The response side: MasterMessages in order, until the master ends the stream."""
        try:
            for message in responses:
                kind = message.WhichOneof("body")
                if kind == "registered":
                    interval_ms = message.registered.heartbeat_interval_ms or 5000
                    log(f"registered as {message.registered.worker_id} (heartbeat every {interval_ms} ms)")
                    threading.Thread(target=self.heartbeats, args=(interval_ms / 1000,), daemon=True).start()
                elif kind == "assign":
                    self.assign(message.assign)
                elif kind == "cancel":
                    c = message.cancel
                    self.stop(c.attempt_id, types_pb.ATTEMPT_OUTCOME_CANCELED, c.reason or "canceled", c.grace_ms / 1000)
                elif kind == "drain":
                    log(f"draining: {message.drain.reason}")
                    self.draining = True
                    self.close_if_idle()
                else:
                    log(f"ignored {kind}")  # pause and resume are left out of this example
        except grpc.RpcError as err:
            self.error = f"{err.code().name}: {err.details()}"

    def assign(self, a):
        if self.draining:  # too late for new work: hand it back as LOST (requeued without using a retry)
            return self.finish(a.attempt_id, types_pb.ATTEMPT_OUTCOME_LOST, -1, "", b"", "worker draining")
        env = {**os.environ, **a.spec.env, "TASKGRID_TASK_ID": a.task_id, "TASKGRID_ATTEMPT_ID": a.attempt_id}
        try:
            # A session (process group) of its own, so a cancel reaches everything the command forked.
            proc = subprocess.Popen(list(a.spec.command), env=env, cwd=a.spec.working_dir or None, start_new_session=True,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        except OSError as err:  # command not found, bad working dir
            return self.finish(a.attempt_id, types_pb.ATTEMPT_OUTCOME_START_FAILED, -1, "", b"", str(err))
        with self.lock:
            self.running[a.attempt_id] = [proc, None]
        log(f"started {a.attempt_id} (pid {proc.pid}): {' '.join(a.spec.command)}")
        self.send(started=pb.AttemptStarted(attempt_id=a.attempt_id, pid=proc.pid, started_at=now()))
        threading.Thread(target=self.watch, args=(a.attempt_id, proc), daemon=True).start()

    def watch(self, attempt_id, proc):
        """Reads stdout+stderr (progress lines, the tail) until the process ends, then reports how it ended."""
        tail = bytearray()
        for line in proc.stdout:
            tail += line
            del tail[:-TAIL_BYTES]
            if m := PROGRESS.match(line):
                text = m.group(2).decode(errors="replace")
                self.send(progress=pb.AttemptProgress(attempt_id=attempt_id, percent=min(float(m.group(1)), 100), message=text))
        code = proc.wait()
        with self.lock:
            stopped_as = self.running[attempt_id][1]
        if stopped_as:  # we stopped it (cancel, shutdown): that decides the outcome, not the exit code
            outcome, message = stopped_as
        elif code == 0:
            outcome, message = types_pb.ATTEMPT_OUTCOME_SUCCEEDED, ""
        else:
            outcome, message = types_pb.ATTEMPT_OUTCOME_FAILED, f"exit code {code}" if code > 0 else "killed by a signal"
        # A negative return code is a signal: the protocol wants exit code -1 and the signal's name.
        self.finish(attempt_id, outcome, max(code, -1), signal.Signals(-code).name if code < 0 else "", tail, message)
        with self.lock:  # only now: once `running` is empty, close_if_idle may end the stream behind `finished`
            del self.running[attempt_id]
        self.close_if_idle()

    def finish(self, attempt_id, outcome, exit_code, signame, tail, message):
        result = task_pb.TaskResult(outcome=outcome, exit_code=exit_code, signal=signame,
                                    output_tail=tail.decode(errors="replace"), message=message)
        log(f"finished {attempt_id}: {types_pb.AttemptOutcome.Name(outcome)} exit {exit_code} {signame}".rstrip())
        self.send(finished=pb.AttemptFinished(attempt_id=attempt_id, result=result, finished_at=now()))

    def stop(self, attempt_id, outcome, message, grace_s):
        """SIGTERM to the attempt's process group now, SIGKILL after the grace period."""
        with self.lock:
            entry = self.running.get(attempt_id)
            if entry is None:
                return log(f"{message}: {attempt_id} is not running")
            entry[1] = (outcome, message)
        log(f"stopping {attempt_id}: {message}")
        signal_group(entry[0], signal.SIGTERM)
        kill = threading.Timer(grace_s, signal_group, args=(entry[0], signal.SIGKILL))
        kill.daemon = True  # never keeps the worker alive once everything has ended
        kill.start()

    def close_if_idle(self):
        """Once draining (or shutting down) and nothing runs any more, half-close the stream."""
        with self.lock:
            if not self.draining or self.running or self.closing:
                return
            self.closing = True
        self.stopped.set()
        self.outbox.put(None)

    def shutdown(self, signum, _frame):
        log(f"{signal.Signals(signum).name}: stopping")
        self.draining = True
        # Tell the master first, so it stops assigning here (nothing is handed over and refused).
        self.send(draining=pb.AgentDraining(reason=f"worker received {signal.Signals(signum).name}"))
        with self.lock:
            attempts = list(self.running)
        for attempt_id in attempts:
            self.stop(attempt_id, types_pb.ATTEMPT_OUTCOME_LOST, "worker stopped", 5)
        self.close_if_idle()


def signal_group(proc, sig):
    """Signals the process group that `proc` leads, unless it is already gone."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--master", default=os.environ.get("TASKGRID_MASTER", "127.0.0.1:50051"))
    parser.add_argument("--id", default=socket.gethostname(), help="worker id: 1..128 of [A-Za-z0-9._-]")
    parser.add_argument("--tags", default="", help="comma-separated tags, e.g. py,zone=eu")
    parser.add_argument("--max-tasks", type=int, default=4, help="attempts run at once")
    opts = parser.parse_args()
    opts.tags = [t for t in opts.tags.split(",") if t]

    worker = Worker(opts)
    signal.signal(signal.SIGINT, worker.shutdown)
    signal.signal(signal.SIGTERM, worker.shutdown)
    worker.register()
    with grpc.insecure_channel(opts.master) as channel:
        responses = rpc.WorkerServiceStub(channel).Connect(worker.requests())
        # Served on a thread, so the main thread stays free to run the signal handlers.
        serving = threading.Thread(target=worker.serve, args=(responses,), daemon=True)
        serving.start()
        serving.join()
    for proc, _ in list(worker.running.values()):  # the stream is gone: leave no process behind
        signal_group(proc, signal.SIGKILL)
    log(f"stream ended: {worker.error}" if worker.error else "stopped")
    return 1 if worker.error else 0


if __name__ == "__main__":
    sys.exit(main())
