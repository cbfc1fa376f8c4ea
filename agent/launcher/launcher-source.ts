// The launcher's Python source (issue 18): one long-lived python3 per agent that starts attempts'
// commands and measures them, so that the agent (a large Node process) never forks itself and no
// attempt pays for an interpreter start. Embedded as a string (like the wrapper it replaces), so
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
// Frames both ways: u32 LE payload length, u8 type, u32 LE attempt handle, payload (frames.ts).
// Requests: SPAWN (payload: cwd, argc, argv..., env "K=V"... each NUL-separated), PAUSE/RESUME
// (stop/restart reading a stream: the agent's log file is behind), RELEASE (the agent is done with
// the attempt: close its pipes). Replies: READY once, then per attempt STARTED (u32 pid) or FAILED
// (errno name), STDOUT/STDERR (bytes), EOF (u8 stream), EXIT (i32 code or -1, u32 signal, u64 CPU
// ms, u64 max RSS KiB). It exits when its stdin ends (the agent is gone).
export const LAUNCHER_SOURCE = `
import errno, os, selectors, signal, struct, subprocess, sys
HEAD = struct.Struct("<IBI")
PID = struct.Struct("<I")
END = struct.Struct("<iIQQ")
SPAWN, PAUSE, RESUME, RELEASE = 1, 2, 3, 4
READY, STARTED, FAILED, STDOUT, STDERR, EOF, EXIT = 0, 1, 2, 3, 4, 5, 6
RSS_KIB = 1024 if sys.platform == "darwin" else 1
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
streams = {}
handles = {}
paused = set()
pending = bytearray()

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
    handles[handle] = [o_r, e_r]
    for fd, kind in ((o_r, STDOUT), (e_r, STDERR)):
        os.set_blocking(fd, False)
        streams[fd] = (handle, kind)
        sel.register(fd, selectors.EVENT_READ, fd)
    send(STARTED, handle, PID.pack(pid))

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
    send(EOF, handle, b"\\1" if kind == STDOUT else b"\\2")

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
        request(kind, handle, bytes(pending[off + 9:off + 9 + n]))
        off += 9 + n
    del pending[:off]

def reap():
    try:
        while os.read(wake_r, 4096):
            pass
    except BlockingIOError:
        pass
    while pids:
        try:
            pid, status, ru = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        handle = pids.pop(pid, None)
        if handle is None:
            continue
        if os.WIFSIGNALED(status):
            code, sig = -1, os.WTERMSIG(status)
        else:
            code, sig = os.WEXITSTATUS(status), 0
        send(EXIT, handle, END.pack(code, sig, round((ru.ru_utime + ru.ru_stime) * 1000), ru.ru_maxrss // RSS_KIB))

send(READY, 0)
flush()
while True:
    for key, _ in sel.select():
        if key.data == 0:
            requests()
        elif key.data == -1:
            reap()
        else:
            readable(key.data)
    if out:
        flush()
`;
