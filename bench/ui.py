"""`python -m bench.ui [--json] [--quick]`: the touchscreen's speed as a customer feels it.

The kiosk runs as it does on the Pi: its own process, a client of a `footbath serve --simulate`
process over the local API, drawing off-screen here (SDL's offscreen driver). The parent starts
both and measures from outside what it can (start time, CPU time and memory from /proc); the
kiosk process, started as `python -m bench.ui --child MODE`, reports what only it can see (taps
and frames) as lines on its stdout. Figures are printed beside their targets; nothing is asserted.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import logging
import math
import os
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from kiosk.ui.pace import LINGER_S

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "bench-ui "  # marks the child's report lines among anything else on its stdout
ROUTINE = "classic"  # soaks at 38.0 C
START_C = 37.8  # the simulated water starts here: ready after a few readings, not 15 minutes
PRESS_S = 0.08  # a finger rests this long between touch down and touch up
PAUSE_S = LINGER_S + 0.5  # from one finished transition to the next touch: the loop has slowed
DEADLINE_S = 60.0  # only a hung process waits this long
NOTE_WIDTH = 92
# Issue 5's targets for the touchscreen on the Pi.
TARGETS = {"cold_start_s": 1.5, "idle_cpu_pct": 3.0, "soak_cpu_pct": 3.0, "rss_mb": 150.0,
           "tap_ms": 100.0, "frame_p99_ms": 16.7}
KIVY_ENV = {"SDL_VIDEODRIVER": "offscreen", "KIVY_NO_ARGS": "1", "KIVY_NO_CONFIG": "1",
            "KIVY_NO_FILELOG": "1", "KIVY_NO_CONSOLELOG": "1"}


@dataclass(frozen=True)
class Plan:
    """How long and how often to measure: the full bench takes about a minute."""

    starts: int  # cold starts, of which the median is reported
    idle_s: float  # CPU measured this long on the home screen
    soak_s: float  # and this long during a soak
    rounds: int  # home -> health -> home: two taps and two transitions each
    settle_s: float  # after a screen is reached, before the CPU is measured


FULL = Plan(starts=3, idle_s=20.0, soak_s=20.0, rounds=8, settle_s=1.0)
QUICK = Plan(starts=1, idle_s=1.0, soak_s=1.0, rounds=1, settle_s=0.2)


# -- pure figures -------------------------------------------------------------------------------

def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile: always one of the values measured, never an interpolation."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[rank - 1]


def cpu_seconds(stat_line: str, ticks_per_s: float) -> float:
    """User plus system CPU time from a /proc/PID/stat line (all the process's threads).

    The command name (field 2) is in parentheses and may hold spaces or parentheses itself, so
    the fields are counted from the last ')'. utime and stime are fields 14 and 15 (proc(5)).
    """
    fields = stat_line[stat_line.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / ticks_per_s


def memory_mb(status_text: str, field: str = "VmRSS") -> float:
    """A memory line of /proc/PID/status (VmRSS, RssAnon, RssFile...), in MB (10^6 bytes)."""
    for line in status_text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024 / 1e6
    raise ValueError(f"no {field} line in the status: has the process ended?")


def cpu_percent(cpu0_s: float, cpu1_s: float, wall0_s: float, wall1_s: float) -> float:
    """CPU use over a stretch of wall-clock time, in % of one core."""
    return 100.0 * (cpu1_s - cpu0_s) / (wall1_s - wall0_s)


def summarise(raw: dict, plan: Plan) -> dict:
    """The figures from the raw measurements, each beside its target."""
    starts, taps = raw["cold_starts_s"], raw["taps_ms"]
    work, intervals = raw["frame_work_ms"], raw["frame_interval_ms"]
    figures = {
        "cold_start_s": {"value": statistics.median(starts), "runs": starts,
                         "first_frame_s": raw["first_frames_s"], "very_first_s": raw["first_start_s"]},
        "idle_cpu_pct": {"value": raw["idle_cpu_pct"], "seconds": plan.idle_s,
                         "redraws_per_s": raw["idle_redraws_per_s"]},
        "soak_cpu_pct": {"value": raw["soak_cpu_pct"], "seconds": plan.soak_s,
                         "redraws_per_s": raw["soak_redraws_per_s"],
                         "phase_after": raw["phase_after_soak"],
                         "paced_step": {"value": raw["step_cpu_pct"],
                                        "redraws_per_s": raw["step_redraws_per_s"]}},
        "rss_mb": {"value": max(m["rss"] for m in raw["memory_mb"].values()), "at": raw["memory_mb"],
                   "bare_kivy": raw["bare_memory_mb"]},
        "tap_ms": {"value": statistics.median(taps) if taps else math.nan,
                   "max": max(taps, default=math.nan), "taps": taps,
                   "noticed_ms": raw["noticed_ms"]},
        "frame_p99_ms": {"value": percentile(work, 99), "p50": percentile(work, 50),
                         "frames": len(work), "transitions": raw["transitions"],
                         "interval_p50_ms": percentile(intervals, 50),
                         "interval_p99_ms": percentile(intervals, 99)},
    }
    for key, figure in figures.items():
        figure["target"] = TARGETS[key]
        figure["within"] = bool(figure["value"] <= TARGETS[key])  # NaN is never within
    return figures


def machine_note(renderer: str, cpus: int, load_1min: float) -> str:
    software = "llvmpipe" in renderer.lower() or "softpipe" in renderer.lower()
    how = "Mesa's software GL, the CPU drawing every pixel" if software else "this machine's GL"
    return (f"Drawn off-screen at 800x480 with {how} ({renderer}), on {cpus} cores, load average "
            f"{load_1min:.1f} at the start: other work shares the machine and makes the figures "
            "noisy. The Pi draws with its GPU, and its CPU is slower.")


def _num(value: float | None, places: int = 1) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.{places}f}"


def table(result: dict) -> str:
    """The figures as a table, targets beside them, then what each figure means."""
    f, plan = result["figures"], result["plan"]
    start, tap, frame = f["cold_start_s"], f["tap_ms"], f["frame_p99_ms"]
    idle, soak = f["idle_cpu_pct"], f["soak_cpu_pct"]
    memory = ", ".join(f"{at} {_num(m['rss'])}" for at, m in f["rss_mb"]["at"].items())
    rows = [
        ("cold_start_s", "s", f"cold start to home drawn (median of {len(start['runs'])})",
         f"{_num(start['value'], 2)} s (runs: {', '.join(_num(x, 2) for x in start['runs'])}; "
         f"very first: {_num(start['very_first_s'], 2)})"),
        ("idle_cpu_pct", "%", f"CPU idle on the home screen ({plan['idle_s']:g} s)",
         f"{_num(idle['value'], 2)} % of a core ({_num(idle['redraws_per_s'])} frames/s)"),
        ("soak_cpu_pct", "%", f"CPU during a soak ({plan['soak_s']:g} s)",
         f"{_num(soak['value'], 2)} % of a core ({_num(soak['redraws_per_s'])} frames/s)"),
        (None, "", "  beside it: a massage step, its ring pacing the reps",
         f"{_num(soak['paced_step']['value'], 1)} % of a core "
         f"({_num(soak['paced_step']['redraws_per_s'])} frames/s)"),
        ("rss_mb", "MB", "resident memory (VmRSS, the largest seen)",
         f"{_num(f['rss_mb']['value'])} MB ({memory})"),
        (None, "", "  of which: Kivy with one label, drawn the same way",
         f"{_num(f['rss_mb']['bare_kivy']['rss'])} MB "
         f"(the shared libraries mapped: {_num(f['rss_mb']['bare_kivy']['file'])} MB)"),
        ("tap_ms", "ms", f"tap to next screen drawn ({len(tap['taps'])} taps)",
         f"median {_num(tap['value'])} ms, max {_num(tap['max'])} ms"),
        (None, "", "  of which: touch down until the loop read it",
         f"median {_num(statistics.median(tap['noticed_ms']) if tap['noticed_ms'] else math.nan)} ms, "
         f"max {_num(max(tap['noticed_ms'], default=math.nan))} ms"),
        ("frame_p99_ms", "ms",
         f"frame time in transitions ({frame['frames']} frames, {frame['transitions']} transitions)",
         f"p99 {_num(frame['value'])} ms, p50 {_num(frame['p50'])} ms"),
    ]
    what_w = max(len(r[2]) for r in rows) + 2
    figure_w = max(len(r[3]) for r in rows) + 2
    lines = [f"{'what':<{what_w}}{'figure':<{figure_w}}{'target':<13}", "-" * (what_w + figure_w + 19)]
    for key, unit, what, figure in rows:
        target, verdict = ("", "") if key is None else (
            f"<= {TARGETS[key]:g} {unit}", "within" if f[key]["within"] else "OVER")
        lines.append(f"{what:<{what_w}}{figure:<{figure_w}}{target:<13}{verdict}")
    notes = [
        result["machine"]["note"],
        "Cold start: from just before the kiosk process starts (the controller already running, "
        "its files in the page cache) to the swap of the first frame showing the home screen with "
        "its routine cards, the fade from the start-up screen done. The very first start also "
        "writes the tones and Mesa's shader cache, as a new kiosk does once.",
        "CPU: utime+stime of the kiosk process (all its threads) from /proc, with the frames drawn "
        "meanwhile; the controller is a process of its own. A step's ring turns at 30 frames a "
        "second and every frame redraws the whole screen: in software, that is where the CPU "
        "goes (no target; the Pi's GPU draws it). Memory: VmRSS in MB of 10^6 bytes, "
        "on the home screen, after the taps, in a soak, on the first massage step (its ring "
        "pacing the reps), the largest on the later steps, and on the summary; it also counts "
        "the shared libraries mapped (RssFile in --json), Mesa's LLVM among them. The floor under it is a "
        "process that only opens Kivy's window as the kiosk does and draws one label: that much "
        "is Python, Kivy, SDL and the GL driver before the kiosk's first widget.",
        "Taps: a finger on a thread of its own, in real time, its touches read by the kiosk's loop "
        "when it polls its inputs as the panel's are; timed from the finger lifting to the swap of "
        f"the first frame of the new screen. Each touch comes {PAUSE_S:g} s after the last screen "
        "settled, when the kiosk's loop has slowed to its idle rate (kiosk/ui/pace.py).",
        "Frame time: a frame's own work, from the end of Kivy's wait for its 60 fps cap to the swap "
        "with every pixel drawn (glFinish); the 16.7 ms budget is what that work must fit in. Time "
        f"between swaps as the cap paces them: p50 {_num(frame['interval_p50_ms'])} ms, "
        f"p99 {_num(frame['interval_p99_ms'])} ms.",
    ]
    for note in notes:
        lines += ["", *textwrap.wrap(note, NOTE_WIDTH)]
    return "\n".join(lines)


# -- the processes, seen from the parent ---------------------------------------------------------

def _env(extra: dict[str, str]) -> dict[str, str]:
    # Neither the staff's config nor systemd's cache folder: the bench's own, in its temp dir.
    env = {k: v for k, v in os.environ.items() if k not in ("FOOTBATH_CONFIG", "CACHE_DIRECTORY")}
    env.update(extra)
    return env


def write_config(folder: Path) -> Path:
    (folder / "routines").mkdir()
    config = folder / "config.yaml"
    # No cleaning between sessions: the home cards must stay tappable after the soak is started.
    config.write_text(f"paths:\n  routines_dir: {folder / 'routines'}\n  state_dir: {folder / 'state'}\n"
                      f"  socket: {folder / 'api.sock'}\ncleaning:\n  required: false\n")
    return config


class Serve:
    """`footbath serve --simulate` in real time, answering on its socket."""

    def __init__(self, config: Path, socket_path: Path, log: Path):
        from kiosk.client import Client, ServiceUnavailable

        self.socket_path, self.log = socket_path, log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "kiosk.cli", "--config", str(config), "serve", "--simulate",
                 "--start-c", str(START_C)],
                cwd=ROOT, env=_env({}), stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        give_up = time.monotonic() + DEADLINE_S
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the controller exited with {self.proc.returncode}: {_tail(log)}")
            try:
                with Client(socket_path, timeout_s=2.0) as client:
                    client.request("status")
                return
            except ServiceUnavailable:
                if time.monotonic() > give_up:
                    self.close()
                    raise RuntimeError(f"the controller never answered: {_tail(log)}") from None
                time.sleep(0.05)

    def request(self, op: str, **args):
        from kiosk.client import Client

        with Client(self.socket_path, timeout_s=5.0) as client:
            return client.request(op, **args)

    def soak(self) -> None:
        """Start a session and take it to the soak, as the customer's taps would."""
        self.request("start", routine=ROUTINE, profile="standard")
        self.request("confirm")  # the basin is filled
        give_up = time.monotonic() + DEADLINE_S
        while (phase := self.request("status")["phase"]) != "ready":
            if phase != "heating" or time.monotonic() > give_up:
                raise RuntimeError(f"the water never got ready (phase {phase!r}): {_tail(self.log)}")
            time.sleep(0.1)
        self.request("confirm")  # feet in: the countdown starts

    def to_paced_step(self) -> None:
        """End the soak and go on to the first step whose ring paces reps, past any that waits
        for a tap (drying the feet)."""
        self.request("next")  # the soak ends
        for _ in range(20):
            if self.request("status")["session"]["rep_s"]:
                return
            if not self.next_step():
                break
        raise RuntimeError(f"{ROUTINE!r} has no step that paces reps: {_tail(self.log)}")

    def next_step(self) -> bool:
        """On to the next step, as the customer's Next would; False once the session is done."""
        session = self.request("status")["session"]
        self.request("confirm" if session["waiting_for_tap"] else "next")
        return self.request("status")["phase"] == "steps"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class KioskProcess:
    """The kiosk in its own process (`--child MODE`); its report lines are read on a thread."""

    def __init__(self, socket_path: Path, mode: str, log: Path, homes: Path):
        self.log = log
        self.lines: queue.Queue = queue.Queue()
        self.started_s = time.monotonic()
        with log.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bench.ui", "--child", mode, "--socket", str(socket_path)],
                cwd=ROOT, env=_env(KIVY_ENV | {"KIVY_HOME": str(homes / "kivy"),
                                               "XDG_CACHE_HOME": str(homes / "cache")}),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=err, text=True, bufsize=1)
        self.stat = Path(f"/proc/{self.proc.pid}/stat")
        self.status = Path(f"/proc/{self.proc.pid}/status")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            if line.startswith(PREFIX):
                self.lines.put(json.loads(line[len(PREFIX):]))
        self.lines.put(None)

    def expect(self, event: str, **match) -> dict:
        """The next report named `event` (with the given fields), skipping others."""
        give_up = time.monotonic() + DEADLINE_S
        while True:
            try:
                report = self.lines.get(timeout=max(0.01, give_up - time.monotonic()))
            except queue.Empty:
                report = {"event": "timeout"}
            if report is None or report["event"] in ("timeout", "error"):
                if report is None:
                    why = f"exited with status {self.proc.wait(timeout=DEADLINE_S)}"
                else:
                    why = report.get("message", "timed out")
                self.close()
                raise RuntimeError(f"the kiosk {why} while waiting for {event} {match}: {_tail(self.log)}")
            if report["event"] == event and all(report.get(k) == v for k, v in match.items()):
                return report

    def send(self, command: str) -> None:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def cpu_s(self) -> float:
        return cpu_seconds(self.stat.read_text(), os.sysconf("SC_CLK_TCK"))

    def memory_mb(self) -> dict[str, float]:
        """Resident memory, and how much of it is the process's own (anon) or mapped files
        (shared libraries: Mesa's llvmpipe brings all of LLVM)."""
        text = self.status.read_text()
        return {"rss": memory_mb(text), "anon": memory_mb(text, "RssAnon"),
                "file": memory_mb(text, "RssFile")}

    def swaps(self) -> int:
        self.send("swaps")
        return self.expect("swaps")["n"]

    def cpu_over(self, seconds: float) -> tuple[float, float]:
        """CPU use in % of a core over `seconds`, and how many frames a second were drawn."""
        swaps0 = self.swaps()
        cpu0, wall0 = self.cpu_s(), time.monotonic()
        time.sleep(seconds)  # the kiosk runs in real time meanwhile: that is what is measured
        cpu1, wall1 = self.cpu_s(), time.monotonic()
        return cpu_percent(cpu0, cpu1, wall0, wall1), (self.swaps() - swaps0) / (wall1 - wall0)

    def wait(self) -> int:
        try:
            return self.proc.wait(timeout=DEADLINE_S)
        finally:
            self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()


def _tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def measure(plan: Plan) -> dict:
    load_1min = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="fbui") as tmp:  # short: AF_UNIX paths are limited
        folder = Path(tmp)
        socket_path = folder / "api.sock"
        homes = folder / "home"  # Kivy's home and the caches: the bench writes nowhere else
        homes.mkdir()
        serve = Serve(write_config(folder), socket_path, folder / "serve.log")
        kiosk = None
        try:
            starts, first_frames = [], []
            # Start 0 writes the kiosk's tones and Mesa's shader cache, as a kiosk's very first
            # start does once: it is reported apart.
            for i in range(plan.starts + 1):
                kiosk = KioskProcess(socket_path, "start", folder / f"start{i}.log", homes)
                first_frames.append(kiosk.expect("frame")["t"] - kiosk.started_s)
                starts.append(kiosk.expect("home")["t"] - kiosk.started_s)
                kiosk.wait()
            kiosk = KioskProcess(socket_path, "run", folder / "kiosk.log", homes)
            home = kiosk.expect("home")
            time.sleep(plan.settle_s)
            idle_cpu, idle_redraws = kiosk.cpu_over(plan.idle_s)
            memory = {"home": kiosk.memory_mb()}
            kiosk.send(f"taps {plan.rounds}")
            taps = kiosk.expect("taps")
            memory["taps"] = kiosk.memory_mb()
            serve.soak()
            kiosk.expect("screen", name="soak")
            time.sleep(plan.settle_s)
            soak_cpu, soak_redraws = kiosk.cpu_over(plan.soak_s)
            memory["soak"] = kiosk.memory_mb()
            phase_after = serve.request("status")["phase"]
            # The first massage step whose ring paces the reps: as long on screen as the soak was.
            serve.to_paced_step()
            kiosk.expect("screen", name="step")
            time.sleep(plan.settle_s)
            step_cpu, step_redraws = kiosk.cpu_over(plan.soak_s)
            memory["step"] = kiosk.memory_mb()
            # The rest of the session, each step a moment on screen: the largest, then the summary.
            later = []
            while serve.next_step():
                time.sleep(plan.settle_s)
                later.append(kiosk.memory_mb())
            if later:
                memory["steps"] = max(later, key=lambda m: m["rss"])
            kiosk.expect("screen", name="done")
            time.sleep(plan.settle_s)
            memory["done"] = kiosk.memory_mb()
            kiosk.send("quit")
            kiosk.wait()
            kiosk = KioskProcess(socket_path, "bare", folder / "bare.log", homes)
            kiosk.expect("drawn")
            time.sleep(plan.settle_s)
            bare_memory = kiosk.memory_mb()
            kiosk.send("quit")
            kiosk.wait()
        finally:
            if kiosk is not None:
                kiosk.close()
            serve.close()
    raw = {"first_start_s": starts[0], "cold_starts_s": starts[1:], "first_frames_s": first_frames[1:],
           "idle_cpu_pct": idle_cpu, "soak_cpu_pct": soak_cpu, "phase_after_soak": phase_after,
           "idle_redraws_per_s": idle_redraws, "soak_redraws_per_s": soak_redraws,
           "step_cpu_pct": step_cpu, "step_redraws_per_s": step_redraws,
           "memory_mb": memory, "bare_memory_mb": bare_memory,
           "taps_ms": taps["taps_ms"], "noticed_ms": taps["noticed_ms"],
           "frame_work_ms": taps["work_ms"],
           "frame_interval_ms": taps["interval_ms"], "transitions": taps["transitions"]}
    cpus = os.cpu_count() or 1
    return {"machine": {"renderer": home["renderer"], "cpus": cpus, "load_1min": load_1min,
                        "note": machine_note(home["renderer"], cpus, load_1min)},
            "plan": asdict(plan), "figures": summarise(raw, plan)}


# -- the kiosk process --------------------------------------------------------------------------

def emit(event: str, **fields) -> None:
    print(PREFIX + json.dumps({"event": event, **fields}), flush=True)


class Finger:
    """A finger on the glass in real time, on a thread of its own. Kivy's loop reads its touches
    only when it polls its inputs, as it reads the panel's, so a tap's time includes the wait for
    the loop to wake; the kiosk slows its loop when nothing moves (kiosk/ui/pace.py).

    To Kivy it is an input provider: the loop calls `update` each time it polls."""

    def __init__(self, on_lift):
        self.on_lift = on_lift  # called on the loop's thread: (screen expected, when the finger lifted)
        self._events: collections.deque = collections.deque()  # appended by the finger, popped by the loop
        self._touch = None
        self.noticed_ms: list[float] = []  # from touch down to the loop reading it

    def tap(self, x: float, y: float, expect: str) -> None:
        threading.Thread(target=self._tap, args=(x, y, expect), daemon=True).start()

    def _tap(self, x: float, y: float, expect: str) -> None:
        time.sleep(PAUSE_S)  # the customer reads the screen: the kiosk's loop has slowed meanwhile
        self._events.append(("begin", x, y, expect, time.monotonic()))
        time.sleep(PRESS_S)
        self._events.append(("end", x, y, expect, time.monotonic()))

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def update(self, dispatch_fn) -> None:
        from kivy.core.window import Window

        from kiosk.ui.fingertip import Fingertip

        while self._events:
            kind, x, y, expect, at_s = self._events.popleft()
            if kind == "begin":
                self._touch = Fingertip(Window, x, y)
                self.noticed_ms.append((time.monotonic() - at_s) * 1000)
            else:
                self.on_lift(expect, at_s)
            dispatch_fn(kind, self._touch)


class Probe:
    """Watches every buffer swap of the kiosk's window and drives the taps."""

    def __init__(self, app, *, stop_at_home: bool):
        from kivy.base import EventLoop
        from kivy.clock import Clock

        self.app, self.clock, self.stop_at_home = app, Clock, stop_at_home
        self.finger = Finger(self.lifted)
        EventLoop.add_input_provider(self.finger)
        self.swaps = 0
        self.home_seen = False
        self.shown: str | None = None  # the last screen reported as fully shown
        self.rounds_left = 0
        self.pending: tuple[str, float] | None = None  # (screen a tap must bring, touch-up time)
        self.expected: str | None = None  # a tap's screen, until its transition has finished
        self.taps_ms: list[float] = []
        self.work_ms: list[float] = []
        self.interval_ms: list[float] = []
        self.transitions = 0
        self._last_swap_s = 0.0
        self._last_moving = False

    def watch(self, window) -> None:
        """Call `swapped` after every buffer swap, once the frame's pixels are all drawn.

        A handler bound to on_flip would run before Kivy's own on_flip, which swaps the buffers,
        so flip itself is wrapped. Mesa's software renderer draws on its own threads after the
        swap returns; glFinish waits for it, so a frame counts as drawn only when it is.
        """
        from kivy.graphics.opengl import glFinish

        swap = window.flip

        def flip():
            swap()
            glFinish()
            self.swapped()
        window.flip = flip

    def lifted(self, expect: str, at_s: float) -> None:
        self.pending, self.expected = (expect, at_s), expect

    def swapped(self) -> None:
        now_s, mono_s = self.clock.time(), time.monotonic()
        manager = getattr(self.app, "manager", None)
        if self.swaps == 0:
            emit("frame", t=mono_s)
        self.swaps += 1
        if manager is None:
            return
        moving = manager.transition.is_active
        if self.pending is not None and manager.current == self.pending[0]:
            self.taps_ms.append((mono_s - self.pending[1]) * 1000)
            self.pending = None
        if self.expected is not None and moving:
            # The frame's own work: from the end of the Clock's wait for its frame cap to now.
            self.work_ms.append((now_s - self.clock.get_time()) * 1000)
            if self._last_moving:
                self.interval_ms.append((now_s - self._last_swap_s) * 1000)
        self._last_swap_s, self._last_moving = now_s, moving
        if moving:
            return
        if manager.current != self.shown:
            self.shown = manager.current
            emit("screen", name=self.shown)
        if not self.home_seen and self.shown == "home" and self.app.screens["home"].cards.children:
            self.home_seen = True
            emit("home", t=mono_s, renderer=_renderer())
            if self.stop_at_home:
                self.app.stop()
        if self.expected is not None and self.pending is None and manager.current == self.expected:
            self.expected = None
            self.transitions += 1
            self.clock.schedule_once(self.next_tap, 0)

    def command(self, line: str) -> None:
        words = line.split()
        if words[:1] == ["taps"]:
            self.rounds_left = int(words[1])
            self.next_tap()
        elif words[:1] == ["swaps"]:
            emit("swaps", n=self.swaps)
        elif words[:1] == ["quit"]:
            self.app.stop()

    def next_tap(self, *_) -> None:
        """Home: tap the first routine card (the health question comes); there: tap Back."""
        from kiosk.ui.widgets import BigButton

        current = self.app.manager.current
        if current == "home":
            if self.rounds_left == 0:
                emit("taps", taps_ms=self.taps_ms, work_ms=self.work_ms, interval_ms=self.interval_ms,
                     transitions=self.transitions, noticed_ms=self.finger.noticed_ms)
                return
            self.rounds_left -= 1
            self.press(self.app.screens["home"].cards.children[-1], "health")
        elif current == "health":
            # Found by what it does, not by its words, which depend on the language.
            back = [b for b in self.app.screens["health"].walk()
                    if isinstance(b, BigButton) and b.on_tap == self.app.back_home]
            self.press(back[0], "home")
        else:
            emit("error", message=f"a tap was due on {current!r}, not on home or health")

    def press(self, widget, expect: str) -> None:
        self.finger.tap(*widget.to_window(*widget.center), expect)


def _renderer() -> str:
    from kivy.graphics.opengl import GL_RENDERER, glGetString

    value = glGetString(GL_RENDERER)
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def child(mode: str, socket_path: Path) -> int:
    """The kiosk as `footbath kiosk` leaves it running (`python -m kiosk.ui.main`: the window set
    up first, then the app), plus the probe."""
    from kiosk.ui.main import configure

    configure(fullscreen=False)
    # Kivy has replaced sys.stderr with a stream into its logger, which KIVY_NO_CONSOLELOG leaves
    # with nowhere to write: without this a traceback would vanish and the kiosk just exit.
    console = logging.StreamHandler(sys.__stderr__)
    console.setLevel(logging.WARNING)
    logging.root.addHandler(console)
    from kivy.clock import Clock
    from kivy.core.window import Window

    if mode == "bare":
        return bare_window(Clock, Window)
    from kiosk.ui.main import build_kiosk

    app = build_kiosk(socket_path)
    probe = Probe(app, stop_at_home=mode == "start")
    probe.watch(Window)
    if mode == "run":
        follow_commands(Clock, app, probe.command)
    app.run()
    return 0


def follow_commands(clock, app, command) -> None:
    """The parent's commands, one a line on stdin, each run on the app's loop; when the parent
    has gone (stdin closed), the app stops."""
    def read():
        for line in sys.stdin:
            clock.schedule_once(lambda _dt, line=line: command(line), 0)
        clock.schedule_once(lambda _dt: app.stop(), 0)
    threading.Thread(target=read, daemon=True).start()


def bare_window(clock, window) -> int:
    """The floor under the kiosk's memory: Kivy with one label, set up and drawn as the kiosk is.
    Its size is mostly the renderer's (with software GL, all of LLVM is in it)."""
    from kivy.app import App
    from kivy.uix.label import Label

    class Bare(App):
        def build(self):
            return Label(text="footbath", font_size=40)

    app = Bare()
    window.bind(on_flip=lambda *_: clock.schedule_once(lambda _dt: emit("drawn"), 0.5))

    follow_commands(clock, app, lambda line: app.stop() if line.split() == ["quit"] else None)
    app.run()
    return 0


# -- command line -------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ui",
                                     description="The touchscreen's speed as a customer feels it: "
                                                 "figures beside issue 5's targets.")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--quick", action="store_true",
                        help="one cold start, 1-second CPU windows, two taps: checks the bench runs")
    parser.add_argument("--child", choices=("start", "run", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--socket", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, args.socket)
    # Stopped with SIGTERM, the bench still ends its controller and kiosk: the finally blocks run.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        result = measure(QUICK if args.quick else FULL)
    except RuntimeError as exc:
        print(f"bench.ui: {exc}", file=sys.stderr)
        return 1
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
    else:
        print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
