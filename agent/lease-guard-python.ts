// The lease guard (lease-guard.mjs) in Python, run where the agent found a python3 (the one its
// launcher uses): the same loop and rules line for line, in ~9 MB of memory against ~42 MB for a
// second Node process, the difference that puts `npm start` near its idle budget (issue 18). The
// JavaScript guard stays for machines without python3; test/unit/agent-lease-guard.test.ts runs
// both through the same cases.
// Usage: python3 -I -S -c SOURCE LEASE_FILE AGENT_PID [POLL_MS]
export const LEASE_GUARD_PYTHON = `
import json, os, signal, sys, time
lease_file = sys.argv[1]
agent_pid = int(sys.argv[2])
poll_ms = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3].isdigit() and int(sys.argv[3]) > 0 else 100
terminated = {}
def now_ms():
    return time.time() * 1000
def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except PermissionError:
        return True
    except OSError:
        return False
def start_time(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
        fields = stat[stat.rindex(")") + 2:].split(" ")
        return fields[19] if len(fields) > 19 else ""
    except (OSError, ValueError):
        return ""
def signal_group(pid, sig):
    try:
        os.killpg(pid, sig)
    except OSError:
        pass
last_whole = None
def read_lease():
    global last_whole
    try:
        with open(lease_file) as f:
            text = f.read()
    except OSError:
        return None
    parts = text.split("\\n", 2)
    if len(parts) >= 2 and parts[0] == parts[1]:
        try:
            last_whole = json.loads(parts[0])
        except ValueError:
            pass
    return last_whole
def tick():
    lease = read_lease()
    agent_alive = alive(agent_pid)
    groups = (lease or {}).get("groups") or []
    expired = lease is not None and lease.get("expiresAtMs") is not None and now_ms() >= lease["expiresAtMs"]
    if not agent_alive or expired:
        grace_ms = (lease or {}).get("graceMs") or 0
        for group in groups:
            pid = group["pid"]
            sent_at = terminated.get(pid)
            if sent_at is None:
                if group.get("start") and start_time(pid) != group["start"]:
                    continue
                signal_group(pid, signal.SIGTERM)
                signal_group(pid, signal.SIGCONT)
                terminated[pid] = now_ms()
            elif sent_at != -1 and now_ms() - sent_at >= grace_ms:
                signal_group(pid, signal.SIGKILL)
                terminated[pid] = -1
    if not agent_alive:
        pending = any(terminated.get(g["pid"]) != -1 and (g["pid"] in terminated or (g.get("start") and start_time(g["pid"]) == g["start"])) for g in groups)
        if not pending:
            try:
                os.remove(lease_file)
            except OSError:
                pass
            sys.exit(0)
while True:
    tick()
    time.sleep(poll_ms / 1000)
`;
