"""`python -m bench.service [--json]`: the bath controller service measured from outside.

A real `footbath serve --simulate --speed 1` process is started on a temporary config, as
systemd would start it (with a NOTIFY_SOCKET, so it is timed from READY=1 and pings its
watchdog as it does on the Pi). Then, from this process:

- the status round trip over the API socket: many requests on one connection, p50 and p99;
- the service's own CPU while idle and during a soak, from /proc/PID/stat (utime + stime of
  all its threads) over a stretch of real time at speed 1; the water starts warm so the
  soak is reached in a few readings;
- its resident memory, from /proc/PID/status (VmRSS, and the peak VmHWM).

Figures are printed beside their targets and never asserted: a loaded machine gives worse
numbers, which is worth seeing rather than failing on. Linux only (/proc).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from kiosk.client import Client

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"status_p99_ms": 5.0, "cpu_pct": 1.0, "rss_mb": 60.0}
ROUTINE = "classic"  # 38.0 C, a 10-minute soak: longer than the measurement
START_C = 38.2  # warm enough to be ready at once after the idle stretch
READY_WITHIN_S = 30.0


class NotifySocket:
    """Where the service says READY=1 and pings its watchdog; read all the time, as systemd does."""

    def __init__(self, path: Path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.5)
        self.ready = threading.Event()
        self.pings = 0
        self._closed = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._closed:
            try:
                message = self.sock.recv(256)
            except TimeoutError:
                continue
            except OSError:
                return
            if message == b"READY=1":
                self.ready.set()
            elif message == b"WATCHDOG=1":
                self.pings += 1

    def close(self) -> None:
        self._closed = True
        self._thread.join(timeout=2)
        self.sock.close()


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of every thread of `pid` so far."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rfind(")") + 2:].split()  # after "pid (comm) ": state is fields[0]
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_s(pid: int) -> float:
    """Seconds on a CPU of every live thread of `pid`, from the scheduler (nanoseconds, unlike
    the clock ticks of /proc/PID/stat): the finer figure for a process this quiet."""
    total_ns = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total_ns += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):  # a thread that just ended
            continue
    return total_ns / 1e9


def memory_mb(pid: int) -> tuple[float, float]:
    """Resident memory now and at its peak, in MB (10^6 bytes)."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024 / 1e6
    return values["VmRSS"], values["VmHWM"]


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def cpu_pct(pid: int, seconds: float) -> dict:
    """The service's CPU as a percentage of one core over `seconds` of real time: from the
    ticks of /proc/PID/stat, and from the scheduler's nanoseconds."""
    wall0, cpu0, run0 = time.monotonic(), cpu_s(pid), run_s(pid)
    time.sleep(seconds)
    wall = time.monotonic() - wall0
    return {"value": round(100.0 * (cpu_s(pid) - cpu0) / wall, 3),
            "scheduler": round(100.0 * (run_s(pid) - run0) / wall, 3), "over_s": round(wall, 1),
            "target": TARGETS["cpu_pct"]}


def round_trips(path: Path, count: int) -> list[float]:
    """Seconds per status request, one connection, one request at a time (as the kiosk asks)."""
    times = []
    with Client(path) as client:
        for _ in range(50):  # warm-up: imports, caches, the first allocation of buffers
            client.request("status")
        for _ in range(count):
            start = time.perf_counter()
            client.request("status")
            times.append(time.perf_counter() - start)
    return times


def wait_for_phase(path: Path, phase: str) -> dict:
    give_up = time.monotonic() + READY_WITHIN_S
    with Client(path) as client:
        for status in client.watch():
            if status["phase"] == phase:
                return status
            if time.monotonic() > give_up:
                raise RuntimeError(f"the service did not reach {phase} in {READY_WITHIN_S:g} s; "
                                   f"it is {status['phase']}")
    raise RuntimeError("the watch stream ended")  # pragma: no cover


def measure(idle_s: float, soak_s: float, requests: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="fbbench"))
    config = folder / "config.yaml"
    (folder / "routines").mkdir()
    config.write_text(f"paths:\n  routines_dir: {folder / 'routines'}\n  state_dir: {folder / 'state'}\n"
                      f"  socket: {folder / 'api.sock'}\n")
    notify = NotifySocket(folder / "notify")
    env = {k: v for k, v in os.environ.items() if k != "FOOTBATH_CONFIG"}
    env["NOTIFY_SOCKET"] = str(notify.path)
    log = (folder / "serve.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "--config", str(config), "serve",
                             "--simulate", "--speed", "1", "--start-c", str(START_C)],
                            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        started = time.monotonic()
        if not notify.ready.wait(READY_WITHIN_S):
            raise RuntimeError("the service did not say READY=1: "
                               + (folder / "serve.log").read_text(errors="replace"))
        ready_s = time.monotonic() - started
        sock = folder / "api.sock"

        times = sorted(round_trips(sock, requests))
        cpu_before = cpu_s(proc.pid)
        # The status requests themselves: CPU the service spent per request.
        with Client(sock) as client:
            for _ in range(requests):
                client.request("status")
        cpu_per_request_ms = 1000 * (cpu_s(proc.pid) - cpu_before) / requests

        idle = cpu_pct(proc.pid, idle_s)

        with Client(sock) as client:
            client.request("start", routine=ROUTINE, profile="standard")
            client.request("confirm")  # filled
            wait_for_phase(sock, "ready")
            client.request("confirm")  # feet in
        wait_for_phase(sock, "soaking")
        soak = cpu_pct(proc.pid, soak_s)
        with Client(sock) as client:
            phase = client.request("status")["phase"]
        rss, peak = memory_mb(proc.pid)
        pings = notify.pings
        proc.send_signal(signal.SIGTERM)
        exit_code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        notify.close()
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "ready_s": round(ready_s, 2),
        "status_round_trip_ms": {
            "requests": len(times),
            "p50": round(1000 * percentile(times, 50), 3),
            "p99": round(1000 * percentile(times, 99), 3),
            "max": round(1000 * times[-1], 3),
            "target_p99": TARGETS["status_p99_ms"],
        },
        "service_cpu_ms_per_status_request": round(cpu_per_request_ms, 3),
        "cpu_idle_pct": idle,
        "cpu_soak_pct": soak | {"phase_after": phase},
        "rss_mb": {"value": round(rss, 1), "peak": round(peak, 1), "target": TARGETS["rss_mb"]},
        "watchdog_pings": pings,
        "exit_code_after_sigterm": exit_code,
    }


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def print_figures(f: dict, out=None) -> None:
    out = sys.stdout if out is None else out
    rtt, idle, soak, rss = f["status_round_trip_ms"], f["cpu_idle_pct"], f["cpu_soak_pct"], f["rss_mb"]
    rows = [
        ("status round trip", f"p50 {rtt['p50']:.2f} ms, p99 {rtt['p99']:.2f} ms, max {rtt['max']:.2f} ms "
                              f"({rtt['requests']} requests, one connection)",
         f"p99 under {rtt['target_p99']:g} ms", rtt["p99"] < rtt["target_p99"]),
        ("service CPU idle", f"{idle['value']:.2f} % of a core over {idle['over_s']:g} s "
                             f"(scheduler: {idle['scheduler']:.3f} %)",
         f"under {idle['target']:g} %", max(idle["value"], idle["scheduler"]) < idle["target"]),
        ("service CPU soaking", f"{soak['value']:.2f} % of a core over {soak['over_s']:g} s "
                                f"(scheduler: {soak['scheduler']:.3f} %; speed 1, "
                                f"{soak['phase_after']} at the end)",
         f"under {soak['target']:g} %", max(soak["value"], soak["scheduler"]) < soak["target"]),
        ("resident memory", f"{rss['value']:.1f} MB (peak {rss['peak']:.1f} MB)",
         f"under {rss['target']:g} MB", rss["peak"] < rss["target"]),
    ]
    print(f"footbath serve --simulate --speed 1 (Python {f['python']}, {f['cpus']} CPUs), ready in "
          f"{f['ready_s']:.2f} s", file=out)
    width = max(len(r[1]) for r in rows)
    for name, value, target, ok in rows:
        print(f"  {name:<20} {value:<{width}}  target: {target:<16} {verdict(ok)}", file=out)
    print(f"  service CPU per status request: {f['service_cpu_ms_per_status_request']:.3f} ms; "
          f"watchdog pings received: {f['watchdog_pings']}; exit code after SIGTERM: "
          f"{f['exit_code_after_sigterm']}", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.service", description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--idle-s", type=float, default=25.0, help="idle stretch, real seconds (25)")
    parser.add_argument("--soak-s", type=float, default=25.0, help="soak stretch, real seconds (25)")
    parser.add_argument("--requests", type=int, default=2000, help="status requests timed (2000)")
    args = parser.parse_args(argv)
    if not Path("/proc/self/stat").exists():
        print("bench.service reads /proc: run it on Linux", file=sys.stderr)
        return 1
    figures = measure(args.idle_s, args.soak_s, args.requests)
    if args.json:
        json.dump(figures, sys.stdout, indent=2)
        print()
    else:
        print_figures(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
