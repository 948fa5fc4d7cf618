"""The guest's half of the system tests: runs the host's commands and sends back their output,
exit code and the guest's uptime.

It talks over a virtio-serial port rather than the 9p share: a port delivers each request
the moment the host writes it (9p has no change notification, so the share would have to be
polled) and needs no mount, so commands work even while a test breaks the filesystem. One
JSON object a line each way:

    host:  {"id": 3, "cmd": "systemctl is-system-running", "timeout_s": 30}
           {"id": 4, "cmd": ["sleep", "60"], "background": true, "log": "/tmp/sleep.log"}
    guest: {"event": "ready", "uptime_s": 4.1}
           {"id": 3, "rc": 0, "stdout": "running\\n", "stderr": "", "timed_out": false,
            "start_uptime_s": 9.8, "end_uptime_s": 9.9}
           {"id": 4, "pid": 412, "log": "/tmp/sleep.log", "start_uptime_s": 10.0}

A string command runs under /bin/sh -c; a list runs as is. Each request runs on its own
thread, so a long command never holds up the next. On a timeout the command's whole process
group is killed. Only the python3 standard library is used: the image has nothing else.
"""

import contextlib
import json
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

MAX_OUTPUT_BYTES = 4 * 1024 * 1024  # beyond this, output is cut (big results go through /share)
BACKGROUND_LOG_DIR = "/var/log/footbath-test"
HOST_GONE_PAUSE_S = 0.2  # the host is not connected: wait this long before reading again


def uptime_s():
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


class Port:
    """The virtio-serial port: whole lines in, whole JSON lines out (one writer at a time)."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        self.lock = threading.Lock()
        self.buffer = b""

    def send(self, message):
        data = (json.dumps(message) + "\n").encode()
        with self.lock:
            view = memoryview(data)
            while view:
                try:
                    written = os.write(self.fd, view)
                except BlockingIOError:
                    select.select([], [self.fd], [], 1.0)
                    continue
                view = view[written:]

    def lines(self):
        while True:
            readable, _, _ = select.select([self.fd], [], [], 5.0)
            if not readable:
                continue
            chunk = os.read(self.fd, 65536)
            if not chunk:  # no host on the other end: it will come back, or the VM ends
                time.sleep(HOST_GONE_PAUSE_S)
                continue
            self.buffer += chunk
            while b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                if line.strip():
                    yield line


def argv_of(cmd):
    return ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else [str(a) for a in cmd]


def environment(extra):
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "LANG": "C.UTF-8", "HOME": "/root"}
    env.update(extra or {})
    return env


def cut(data):
    text = data[:MAX_OUTPUT_BYTES].decode(errors="replace")
    if len(data) > MAX_OUTPUT_BYTES:
        text += f"\n[... {len(data) - MAX_OUTPUT_BYTES} more bytes cut by the agent]"
    return text


def run(request):
    start = uptime_s()
    timeout_s = request.get("timeout_s")
    try:
        proc = subprocess.Popen(
            argv_of(request["cmd"]), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, cwd=request.get("cwd") or "/",
            env=environment(request.get("env")), start_new_session=True)
    except OSError as e:
        return {"rc": 127, "stdout": "", "stderr": f"agent: cannot start: {e}\n",
                "timed_out": False, "start_uptime_s": start, "end_uptime_s": uptime_s()}
    timed_out = False
    try:
        out, err = proc.communicate((request.get("input") or "").encode(), timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        out, err = proc.communicate()
    return {"rc": proc.returncode, "stdout": cut(out), "stderr": cut(err), "timed_out": timed_out,
            "start_uptime_s": start, "end_uptime_s": uptime_s()}


def start_background(request):
    """Start the command detached, its output in a log file, and answer at once."""
    start = uptime_s()
    Path(BACKGROUND_LOG_DIR).mkdir(parents=True, exist_ok=True)
    log = request.get("log") or f"{BACKGROUND_LOG_DIR}/{request['id']}.log"
    try:
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                argv_of(request["cmd"]), stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                cwd=request.get("cwd") or "/", env=environment(request.get("env")),
                start_new_session=True)
    except OSError as e:
        return {"pid": None, "error": f"agent: cannot start: {e}", "log": log, "start_uptime_s": start}
    # Reap it when it ends, so no zombie is left behind (its exit code goes to the log).
    threading.Thread(target=lambda: reap(proc, log), daemon=True).start()
    return {"pid": proc.pid, "log": log, "start_uptime_s": start}


def reap(proc, log):
    rc = proc.wait()
    try:
        with open(log, "a") as out:
            out.write(f"[agent: exit {rc} at uptime {uptime_s():.3f} s]\n")
    except OSError:
        pass


def serve(port, request):
    try:
        reply = start_background(request) if request.get("background") else run(request)
    except Exception as e:  # the host must always get an answer, never a silent drop
        reply = {"rc": 125, "stdout": "", "stderr": f"agent: {type(e).__name__}: {e}\n",
                 "timed_out": False, "start_uptime_s": uptime_s(), "end_uptime_s": uptime_s()}
    reply["id"] = request.get("id")
    port.send(reply)


def main(path):
    port = Port(path)
    port.send({"event": "ready", "uptime_s": uptime_s()})
    for line in port.lines():
        try:
            request = json.loads(line)
        except ValueError:
            port.send({"event": "bad-request", "line": line[:200].decode(errors="replace")})
            continue
        threading.Thread(target=serve, args=(port, request), daemon=True).start()


if __name__ == "__main__":
    main(sys.argv[1])
