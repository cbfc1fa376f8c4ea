// The launcher's Python source (issue 18): a long-lived python3 (one per agent, more when it is
// busy: launcher-client.ts) that starts attempts' commands and measures them, so that the agent (a
// large Node process) never forks itself and no attempt pays for an interpreter start. Embedded as a string (like the wrapper it replaces), so
// the compiled build needs no extra asset.
//
// Why it is fast: subprocess.Popen in a process whose heap is a few MB, which (CPython 3.10+)
// starts each command with vfork + exec in C: no copy of the agent's or even the launcher's page
// tables; exec errors come back from Popen itself before it returns; one epoll loop relays all
// attempts' output as length-prefixed frames, whole reads at a time, and writes every frame of one
// loop turn in one write(2). (os.posix_spawn is ~40% cheaper still, but glibc's posix_spawn
// leaves its two internal signals, 32 and 33, ignored in every command it starts: a visible change
// from a Node spawn, which gives all signals their defaults.)
//
// Requests are queued as they are read and one loop turn starts at most SPAWN_BURST commands, then
// reads exits and output and sends what it has, so a burst of requests delays neither the first
// commands' STARTED nor other attempts' ends: when a turn started every request it had read,
// an attempt's EOFs waited p50 34 ms behind the burst after its EXIT (processes bench, 128 slots).
//
// What each command gets, as a detached Node spawn gives it: its own session and process group
// (setsid: pid == pgid, so the agent's group signals reach all it forks), default dispositions for
// every signal (exec resets the launcher's handlers, Popen's restore_signals its ignored ones) and
// an empty signal mask (the launcher's), stdin /dev/null, stdout and stderr on pipes of their own,
// no other fd (Popen closes them), the request's env and cwd, and argv[0] looked up on the request
// env's PATH (as os.execvp did in the wrapper). The launcher reaps each command with os.wait4:
// exit code or signal, CPU time (user + system, of the command and every descendant it waited
// for) and max RSS in KiB. The Popen object is told the command ended, so that subprocess never
// waits for it behind the launcher's back.
//
// Processes left behind (issue 17, agent/rusage.ts): on Linux the launcher is a child subreaper,
// so what a command orphans (`cmd & exit 0`, double forks) becomes the launcher's child. Every
// child that ended is peeked at first (waitid WNOWAIT), an unknown one's session read from its
// zombie's /proc stat, then reaped with wait4 and its figures added to the attempt of that
// session (the session id is the command's pid: no other process gets it while one of the
// session exists); one of no known session (it left with setsid, or its attempt was released) is
// just reaped. Figures added after EXIT went out come in USAGE frames, up to the attempt's close.
// The close (EXIT and both EOFs sent) is what ends the attempt for the agent, so when it is due
// (the command exited and its output closed) and a process of its session that is the
// launcher's child is exiting (PF_EXITING and one thread left in its /proc stat: a background
// job that held the output closes it as it exits, just before it becomes reapable), the last frame waits for its
// reaping, at most HOLD_S. A process still running then is not waited for: it runs on (the
// agent does not kill the group of an attempt that ended by itself), as without the launcher.
// killpg(session, 0) first says cheaply whether any process of the attempt's group is left.
//
// Frames both ways: u32 LE payload length, u8 type, u32 LE attempt handle, payload (frames.ts).
// Requests: SPAWN (payload: cwd, argc, argv..., env "K=V"... each NUL-separated; of a name given
// twice the later wins: the agent's environment comes first, the attempt's own after it), PAUSE/RESUME
// (stop/restart reading a stream: the agent's log file is behind), RELEASE (the agent is done with
// the attempt: close its pipes). Replies: READY once, then per attempt STARTED (u32 pid, then the
// process's start time: field 22 of its /proc stat, read while it cannot have been reaped yet; empty
// where there is no /proc) or FAILED
// (errno name), STDOUT/STDERR (bytes), EOF (u8 stream), EXIT (i32 code or -1, u32 signal, u64 CPU
// ms, u64 max RSS KiB), USAGE (u64 CPU ms, u64 max RSS KiB: the figures so far, after EXIT). It
// exits when its stdin ends (the agent is gone; the processes it was subreaper of go to init).
/** The launcher's last argument, which its source ignores: it tells the launcher apart in `ps`. */
export const LAUNCHER_PROCESS_MARK = "taskgrid-launcher";

export const LAUNCHER_SOURCE = `
import collections, errno, os, selectors, signal, struct, subprocess, sys, time
HEAD = struct.Struct("<IBI")
PID = struct.Struct("<I")
END = struct.Struct("<iIQQ")
USE = struct.Struct("<QQ")
SPAWN, PAUSE, RESUME, RELEASE = 1, 2, 3, 4
READY, STARTED, FAILED, STDOUT, STDERR, EOF, EXIT, USAGE = 0, 1, 2, 3, 4, 5, 6, 7
RSS_KIB = 1024 if sys.platform == "darwin" else 1
PF_EXITING = 4
HOLD_S = 1.0
SPAWN_BURST = 4

def subreaper():
    if not sys.platform.startswith("linux") or not hasattr(os, "waitid"):
        return False
    try:
        import ctypes
        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0
    except Exception:
        return False

SUBREAPER = subreaper()
CHILDREN = "/proc/self/task/%d/children" % os.getpid()
null = os.open(os.devnull, os.O_RDWR)
wake_r, wake_w = os.pipe()
os.set_blocking(wake_r, False)
os.set_blocking(wake_w, False)
signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
signal.signal(signal.SIGCHLD, lambda n, f: None)
sel = selectors.DefaultSelector()
sel.register(0, selectors.EVENT_READ, 0)
sel.register(wake_r, selectors.EVENT_READ, -1)
out = []
pids = {}
sessions = {}
attempts = {}
holding = {}
streams = {}
handles = {}
paused = set()
pending = bytearray()
queued = collections.deque()

class Attempt:
    __slots__ = ("sid", "cpu", "rss", "code", "sig", "open", "exit_sent", "sent", "eof", "hold", "closed")

    def __init__(self, sid):
        self.sid = sid
        self.cpu = 0.0
        self.rss = 0
        self.open = 2
        self.exit_sent = False
        self.sent = None
        self.eof = None
        self.hold = None
        self.closed = False

def send(kind, handle, payload=b""):
    out.append(HEAD.pack(len(payload), kind, handle))
    if payload:
        out.append(payload)

def flush():
    view = memoryview(b"".join(out))
    out.clear()
    while view:
        view = view[os.write(1, view):]

def errname(e):
    if isinstance(e, OSError) and e.errno:
        return errno.errorcode.get(e.errno, "E%d" % e.errno)
    return "EINVAL (%s)" % e

def spawn(handle, payload):
    parts = payload.split(b"\\0")
    argc = int(parts[1])
    o_r, o_w = os.pipe()
    e_r, e_w = os.pipe()
    try:
        env = dict(kv.split(b"=", 1) for kv in parts[2 + argc:])
        child = subprocess.Popen(parts[2:2 + argc], stdin=null, stdout=o_w, stderr=e_w, cwd=parts[0], env=env, start_new_session=True)
        child.returncode = 0
        pid = child.pid
    except Exception as e:
        os.close(o_r)
        os.close(e_r)
        send(FAILED, handle, errname(e).encode())
        return
    finally:
        os.close(o_w)
        os.close(e_w)
    pids[pid] = handle
    sessions[pid] = handle
    attempts[handle] = Attempt(pid)
    handles[handle] = [o_r, e_r]
    for fd, kind in ((o_r, STDOUT), (e_r, STDERR)):
        os.set_blocking(fd, False)
        streams[fd] = (handle, kind)
        sel.register(fd, selectors.EVENT_READ, fd)
    send(STARTED, handle, PID.pack(pid) + start_time(pid))

def close_stream(fd):
    handle, kind = streams.pop(fd)
    if fd in paused:
        paused.discard(fd)
    else:
        sel.unregister(fd)
    os.close(fd)
    fds = handles.get(handle)
    if fds is not None:
        fds.remove(fd)
        if not fds:
            del handles[handle]
    return handle, kind

def readable(fd):
    if fd not in streams or fd in paused:
        return
    try:
        data = os.read(fd, 65536)
    except BlockingIOError:
        return
    except OSError:
        data = b""
    if data:
        handle, kind = streams[fd]
        send(kind, handle, data)
        return
    handle, kind = close_stream(fd)
    code = b"\\1" if kind == STDOUT else b"\\2"
    a = attempts.get(handle)
    if a is None:
        send(EOF, handle, code)
        return
    a.open -= 1
    if a.open or not a.exit_sent:
        send(EOF, handle, code)
    else:
        a.eof = code
        settle(handle, a)

def stat_fields(pid):
    # os.open/os.read: half the cost of open() (no file object); read for every command started.
    try:
        fd = os.open("/proc/%d/stat" % pid, os.O_RDONLY)
        try:
            data = os.read(fd, 4096)
        finally:
            os.close(fd)
        return data[data.rindex(b")") + 2:].split()
    except (OSError, ValueError):
        return None

def start_time(pid):
    f = stat_fields(pid)
    return f[19] if f and len(f) > 19 else b""

def exiting(sid):
    try:
        os.killpg(sid, 0)
    except OSError:
        return set()
    try:
        with open(CHILDREN, "rb") as f:
            children = f.read().split()
    except OSError:
        return set()
    found = set()
    for word in children:
        pid = int(word)
        if pid in pids:
            continue
        f = stat_fields(pid)
        if f and int(f[3]) == sid and int(f[6]) & PF_EXITING and f[17] == b"1":
            found.add(pid)
    return found

def settle(handle, a):
    hold = exiting(a.sid) if SUBREAPER else None
    if hold:
        a.hold = hold
        holding[handle] = time.monotonic() + HOLD_S
    else:
        close(handle, a)

def report(handle, a):
    figures = (round(a.cpu * 1000), a.rss // RSS_KIB)
    if not a.exit_sent:
        a.exit_sent = True
        send(EXIT, handle, END.pack(a.code, a.sig, *figures))
    elif figures != a.sent:
        send(USAGE, handle, USE.pack(*figures))
    a.sent = figures

def close(handle, a):
    holding.pop(handle, None)
    a.hold = None
    a.closed = True
    report(handle, a)
    if a.eof is not None:
        send(EOF, handle, a.eof)

def expire():
    now = time.monotonic()
    for handle, until in list(holding.items()):
        if until <= now:
            close(handle, attempts[handle])

def stream_fd(handle, payload):
    fds = handles.get(handle, ())
    for fd in fds:
        if streams[fd][1] == (STDOUT if payload == b"\\1" else STDERR):
            return fd
    return None

def request(kind, handle, payload):
    if kind == SPAWN:
        spawn(handle, payload)
    elif kind == PAUSE:
        fd = stream_fd(handle, payload)
        if fd is not None and fd not in paused:
            sel.unregister(fd)
            paused.add(fd)
    elif kind == RESUME:
        fd = stream_fd(handle, payload)
        if fd is not None and fd in paused:
            paused.discard(fd)
            sel.register(fd, selectors.EVENT_READ, fd)
    elif kind == RELEASE:
        for fd in list(handles.get(handle, ())):
            close_stream(fd)
        a = attempts.pop(handle, None)
        holding.pop(handle, None)
        if a is not None and sessions.get(a.sid) == handle:
            del sessions[a.sid]

def requests():
    data = os.read(0, 1 << 20)
    if not data:
        os._exit(0)
    pending.extend(data)
    off = 0
    size = len(pending)
    while size - off >= 9:
        n, kind, handle = HEAD.unpack_from(pending, off)
        if size - off - 9 < n:
            break
        queued.append((kind, handle, bytes(pending[off + 9:off + 9 + n])))
        off += 9 + n
    del pending[:off]

def run_queued():
    spawns = 0
    while queued and spawns < SPAWN_BURST:
        kind, handle, payload = queued.popleft()
        request(kind, handle, payload)
        if kind == SPAWN:
            spawns += 1

def orphan_owner(pid):
    f = stat_fields(pid)
    return sessions.get(int(f[3])) if f else None

def next_ended():
    if SUBREAPER:
        info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if info is None:
            return None
        pid = info.si_pid
        handle = pids.pop(pid, None)
        main = handle is not None
        if not main:
            handle = orphan_owner(pid)
        return os.wait4(pid, os.WNOHANG) + (handle, main)
    if not pids:
        return None
    pid, status, ru = os.wait4(-1, os.WNOHANG)
    if pid == 0:
        return None
    return pid, status, ru, pids.pop(pid, None), True

def reap():
    try:
        while os.read(wake_r, 4096):
            pass
    except BlockingIOError:
        pass
    while True:
        try:
            ended = next_ended()
        except ChildProcessError:
            return
        if ended is None:
            return
        pid, status, ru, handle, main = ended
        a = attempts.get(handle)
        if a is None:
            continue
        a.cpu += ru.ru_utime + ru.ru_stime
        a.rss = max(a.rss, ru.ru_maxrss)
        if main:
            if os.WIFSIGNALED(status):
                a.code, a.sig = -1, os.WTERMSIG(status)
            else:
                a.code, a.sig = os.WEXITSTATUS(status), 0
            if a.open:
                report(handle, a)
            else:
                settle(handle, a)
        elif a.hold is not None:
            a.hold.discard(pid)
            if not a.hold:
                close(handle, a)
        elif a.exit_sent and not a.closed:
            report(handle, a)

send(READY, 0)
flush()
while True:
    if queued:
        timeout = 0
    elif holding:
        timeout = max(0.0, min(holding.values()) - time.monotonic())
    else:
        timeout = None
    for key, _ in sel.select(timeout):
        if key.data == 0:
            requests()
        elif key.data == -1:
            reap()
        else:
            readable(key.data)
    run_queued()
    if holding:
        expire()
    if out:
        flush()
`;
