"""The guest's half of the footbath drills: measurements that must be taken inside the VM, on
the guest's own clock, where a round trip to the host (tens of milliseconds under TCG) would
blur them. The drills copy this file to the share and run it with the image's python3 (the
standard library only: it must not depend on what it is testing).

    python3 drill_guest.py api OP [JSON_ARGS]          one API request; prints the reply
    python3 drill_guest.py write FILE < TEXT           an atomic write, mode 0444, as sysfs shows it
    python3 drill_guest.py overheat W1_SLAVE HEATER [--hot-c C] < TEXT
    python3 drill_guest.py stop PULL OUTPUT...
    python3 drill_guest.py freeze PID HEATER
    python3 drill_guest.py sample [--until FILE] SECONDS OUTPUT...
                                                       the highest value each line showed
    python3 drill_guest.py journal DB                  integrity_check and the sessions
    python3 drill_guest.py sandbox OUT PATH...         what this process may write and open
    python3 drill_guest.py cycle DB HEATER OUTPUT... [--quiet-s S] [--start ROUTINE]
                                                       after a boot: the lines, the journal, a session

Each prints one JSON object. Every wait has a deadline (--timeout, default 60 s); a deadline
passed is exit status 2 with what was waited for. Times are CLOCK_MONOTONIC seconds, the
clock systemd's journal stamps as "monotonic" (journalctl -o short-monotonic).
"""

import argparse
import json
import os
import select
import signal
import socket
import sqlite3
import sys
import time
from pathlib import Path

SOCKET = "/run/footbath/footbath.sock"
POLL_S = 0.001  # between two looks at a GPIO line: fine enough, and leaves the CPU to the service


class Deadline(Exception):
    pass


def now():
    return time.monotonic()


_line_fds = {}


def line(path):
    """A GPIO line's value (0 or 1) as gpio-sim shows it in sysfs. The file is opened once and
    read again from its start (sysfs answers each read at offset 0 afresh): under TCG a look
    then costs a quarter of the CPU of opening the file each time, which leaves the emulated
    CPU to the service being watched."""
    if path not in _line_fds:
        _line_fds[path] = os.open(path, os.O_RDONLY)
    return int(os.pread(_line_fds[path], 8, 0))


def write_atomic(path, text):
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o444)
    os.replace(tmp, path)


def connect(timeout_s):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout_s)
    sock.connect(SOCKET)
    return sock


def request(sock, op, args, request_id=1):
    sock.sendall((json.dumps({"id": request_id, "op": op, **args}) + "\n").encode())


class Lines:
    """Newline-delimited JSON from a socket, read without blocking past a deadline."""

    def __init__(self, sock):
        self.sock, self.buffer = sock, b""

    def poll(self, wait_s):
        """The messages that arrived within wait_s (possibly none)."""
        readable, _, _ = select.select([self.sock], [], [], wait_s)
        if readable:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("the service closed the connection")
            self.buffer += chunk
        out = []
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            out.append(json.loads(line))
        return out


def api(op, args, timeout_s):
    """One request on a connection of its own: the reply (ok or not)."""
    sock = connect(timeout_s)
    try:
        request(sock, op, args)
        lines, deadline = Lines(sock), now() + timeout_s
        while now() < deadline:
            for message in lines.poll(0.1):
                if message.get("id") == 1:
                    return message
    finally:
        sock.close()
    raise Deadline(f"no reply to {op} in {timeout_s} s")


def cmd_api(args):
    return api(args.op, json.loads(args.json) if args.json else {}, args.timeout)


def cmd_write(args):
    write_atomic(args.file, sys.stdin.read())
    return {"written": args.file}


def cmd_overheat(args):
    """Subscribe to the service's snapshots, then make the probe say TEXT (hot) and watch the
    heater line: when did it go low, and what did the line show when the first snapshot with
    the hot reading came out (the controller drives the outputs before it publishes)."""
    text = sys.stdin.read()
    sock = connect(args.timeout)
    request(sock, "watch", {})
    lines = Lines(sock)
    deadline = now() + args.timeout
    first = None
    while first is None:  # the watch's first snapshot: the state before the hot reading
        if now() > deadline:
            raise Deadline("no snapshot from the watch request")
        first = next((m for m in lines.poll(0.1) if m.get("id") == "watch"), None)
    was = line(args.heater)
    written = now()
    write_atomic(args.w1_slave, text)
    low_at = snapshot = None
    while low_at is None or snapshot is None:
        if now() > deadline:
            raise Deadline(f"heater low at {low_at}, hot snapshot {snapshot is not None} "
                           f"{args.timeout} s after the write")
        if low_at is None and line(args.heater) == 0:
            low_at = now()
        for message in lines.poll(POLL_S):
            result = message.get("result") or {}
            water_c = result.get("water_c")
            if snapshot is None and water_c is not None and water_c >= args.hot_c - 0.01:
                snapshot = {"at": now(), "line": line(args.heater), "heater": result.get("heater"),
                            "phase": result.get("phase"), "faults": result.get("faults"),
                            "water_c": water_c}
    before = {k: first["result"].get(k) for k in ("phase", "heater", "water_c")}
    return {"heater_before": was, "before": before,
            "written_at": written, "low_at": low_at, "hot_snapshot": snapshot}


def cmd_stop(args):
    """Pull the STOP button's line low (pressed: a button to GND) and time every output going low."""
    before = {path: line(path) for path in args.outputs}
    pulled = now()
    with open(args.pull, "w") as f:
        f.write("pull-down")
    deadline = pulled + args.timeout
    high = set(args.outputs)
    low_at = {}
    while high:
        if now() > deadline:
            raise Deadline(f"still high {args.timeout} s after the pull: {sorted(high)}")
        for path in list(high):
            if line(path) == 0:
                low_at[path] = now()
                high.discard(path)
        time.sleep(POLL_S)
    return {"before": before, "pulled_at": pulled, "low_at": low_at,
            "all_low_after_s": max(low_at.values()) - pulled}


def cmd_freeze(args):
    """SIGSTOP the controller and time its heater line going low."""
    was = line(args.heater)
    frozen = now()
    os.kill(args.pid, signal.SIGSTOP)
    deadline = frozen + args.timeout
    while line(args.heater) != 0:
        if now() > deadline:
            raise Deadline(f"the heater line still high {args.timeout} s after SIGSTOP")
        time.sleep(POLL_S * 10)
    return {"heater_before": was, "frozen_at": frozen, "low_at": now()}


def cmd_sample(args):
    """Look at each line every few milliseconds for SECONDS (or until the file --until names
    exists): its highest value (1: it was driven high at least once), how many looks were
    taken and for how long."""
    highest = dict.fromkeys(args.outputs, 0)
    looks, started = 0, now()
    end = started + args.seconds
    while now() < end and not (args.until and Path(args.until).exists()):
        for path in args.outputs:
            highest[path] = max(highest[path], line(path))
        looks += 1
        time.sleep(POLL_S * 5)
    return {"highest": highest, "looks": looks, "seconds": now() - started}


def cmd_journal(args):
    return journal(args.db, args.timeout)


def journal(path, timeout_s):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout_s)
    try:
        integrity = [row[0] for row in db.execute("PRAGMA integrity_check")]
        columns = ("id", "routine", "started_at", "ended_at", "outcome")
        rows = db.execute(f"SELECT {', '.join(columns)} FROM sessions ORDER BY id")
        sessions = [dict(zip(columns, row, strict=True)) for row in rows]
        samples = db.execute("SELECT count(*) FROM samples").fetchone()[0]
    finally:
        db.close()
    return {"integrity": integrity, "sessions": sessions, "samples": samples}


def cmd_cycle(args):
    """One round of the power-cut drill after a boot, in one process (each python3 start costs
    a second under TCG): watch every output line from now until the controller has answered
    for --quiet-s; its status then; the journal; with --start, a session started as the kiosk
    starts one (start, then the tap that says the basin is filled), the heater line waited for,
    and the journal's running session. Run as the service's user: it reads the journal the way
    the service writes it (no root-owned -shm file left behind)."""
    highest = dict.fromkeys(args.outputs, 0)
    looks, started, deadline = 0, now(), now() + args.timeout
    status = answered = None

    def look():
        nonlocal looks
        for path in args.outputs:
            highest[path] = max(highest[path], line(path))
        looks += 1

    while answered is None or now() < answered + args.quiet_s:
        if now() > deadline:
            raise Deadline(f"the controller did not answer within {args.timeout} s of the agent")
        look()
        if answered is None and Path(SOCKET).exists():
            try:
                reply = api("status", {}, 5.0)
            except (OSError, Deadline):
                reply = None
            if reply and reply.get("ok"):
                status, answered = reply["result"], now()
        time.sleep(POLL_S * 5)
    result = {"highest": highest, "looks": looks, "watched_s": now() - started,
              "answered_after_s": answered - started, "status": status,
              "journal": journal(args.db, args.timeout)}
    if args.start:
        for op, body in (("start", {"routine": args.start}), ("confirm", {})):
            reply = api(op, body, args.timeout)
            if not reply.get("ok"):
                raise Deadline(f"{op} refused: {reply.get('error')}")
        asked = now()
        while line(args.heater) != 1:
            if now() > deadline:
                raise Deadline(f"the heater line stayed low {now() - asked:.1f} s after the session started")
            time.sleep(POLL_S * 5)
        result["heating_after_s"] = now() - asked
        result["running"] = [row["id"] for row in journal(args.db, args.timeout)["sessions"]
                             if row["outcome"] is None]
    return result


def cmd_sandbox(args):
    """Run by the unit itself (an ExecStartPost= drop-in: same user, namespaces, device policy
    and system-call filter as its ExecStart): try to make a file in each folder and to open
    each device; the answers go to OUT (in the state directory, the one place it can write)
    and are printed too. An error's name, or "ok"."""
    def attempt(action):
        try:
            action()
            return "ok"
        except OSError as e:
            return e.__class__.__name__ + (f" ({e.strerror})" if e.strerror else "")

    def make(folder):
        path = Path(folder) / f".footbath-sandbox-{os.getpid()}"
        path.write_text("probe")
        path.unlink()

    def open_device(path):
        os.close(os.open(path, os.O_RDWR if path.startswith("/dev/gpiochip") else os.O_RDONLY))

    result = {"uid": os.getuid(), "write": {}, "open": {}}
    for path in args.paths:
        if path.startswith("/dev/") and not path.endswith("/"):
            result["open"][path] = attempt(lambda path=path: open_device(path))
        else:
            result["write"][path.rstrip("/") or "/"] = attempt(lambda path=path: make(path))
    write_atomic(args.out, json.dumps(result))
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(prog="drill_guest.py")
    parser.add_argument("--timeout", type=float, default=60.0)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("api")
    p.add_argument("op")
    p.add_argument("json", nargs="?")
    p = sub.add_parser("write")
    p.add_argument("file")
    p = sub.add_parser("overheat")
    p.add_argument("w1_slave")
    p.add_argument("heater")
    p.add_argument("--hot-c", type=float, default=41.5)
    p = sub.add_parser("stop")
    p.add_argument("pull")
    p.add_argument("outputs", nargs="+")
    p = sub.add_parser("freeze")
    p.add_argument("pid", type=int)
    p.add_argument("heater")
    p = sub.add_parser("sample")
    p.add_argument("--until")
    p.add_argument("seconds", type=float)
    p.add_argument("outputs", nargs="+")
    p = sub.add_parser("journal")
    p.add_argument("db")
    p = sub.add_parser("cycle")
    p.add_argument("db")
    p.add_argument("heater")
    p.add_argument("outputs", nargs="+")
    p.add_argument("--quiet-s", type=float, default=2.0)
    p.add_argument("--start")
    p = sub.add_parser("sandbox")
    p.add_argument("out")
    p.add_argument("paths", nargs="+", help="folders to write in (ending /), devices to open")
    args = parser.parse_args(argv)
    try:
        result = globals()[f"cmd_{args.cmd}"](args)
    except Deadline as e:
        print(json.dumps({"deadline": str(e)}))
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
