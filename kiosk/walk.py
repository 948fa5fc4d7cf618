"""`footbath run` in a terminal: the real service on a simulated bath, printed as it goes.

The service runs in this process on a temporary socket with a temporary journal, and this
module is just another API client: it starts the routine, answers each prompt after a
moment as a customer would, and prints every change of phase, step and foot.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from pathlib import Path

from routines import PROFILES, format_duration

from .client import Client
from .config import Config
from .errors import KioskError
from .service import Service

TAP_AFTER_S = 5.0  # a simulated customer answers each prompt after this long
START_C = 30.0  # the water as it comes from the tap


def demo_config(config: Config, folder: Path) -> Config:
    """The staff's config with the journal and socket moved into a temporary folder."""
    paths = dataclasses.replace(config.paths, state_dir=folder / "state", socket=folder / "api.sock")
    return dataclasses.replace(config, paths=paths)


def walk(config: Config, routine_id: str, *, profile: str, speed: float, out=None,
         seed: int = 0) -> int:
    out = sys.stdout if out is None else out
    if profile not in PROFILES:
        raise KioskError(f"unknown profile {profile!r}; use {' or '.join(PROFILES)}")
    if not speed > 0:
        raise KioskError(f"--speed must be above 0, not {speed:g}")
    with tempfile.TemporaryDirectory(prefix="footbath-run-") as tmp:
        service = Service(demo_config(config, Path(tmp)), simulate=True, speed=speed,
                          water_c=START_C, seed=seed)
        service.start()
        try:
            with Client(service.socket_path, timeout_s=30) as client:
                bath = config.bath
                return _walk(client, routine_id, profile, out,
                             f"{bath.litres:g} L, {bath.heater_w:g} W, simulated, x{speed:g}")
        finally:
            service.stop()


def _walk(client: Client, routine_id: str, profile: str, out, bath: str) -> int:
    routines = {r["id"]: r for r in client.request("routines")}
    if routine_id not in routines:
        raise KioskError(f"no routine {routine_id!r}; known routines: {', '.join(routines)}")
    status = client.request("start", routine=routine_id, profile=profile)
    session = status["session"]
    print(f"{session['routine_name']}, {profile} profile: {format_duration(session['session_remaining_s'])} "
          f"once the water is warm ({bath})", file=out, flush=True)
    shown, waiting_since = None, 0.0
    with Client(client.path, timeout_s=client.timeout_s) as watcher:
        for status in watcher.watch():
            session = status["session"]
            if session is None:
                return 1
            key = (session["phase"], session["step_index"], session["foot"], session["pause_reason"])
            if key != shown:
                shown, waiting_since = key, status["now_s"]
                print(line(status), file=out, flush=True)
            if session["phase"] in ("done", "stopped", "fault"):
                return 0 if session["phase"] == "done" else 1
            if session["waiting_for_tap"] and status["now_s"] - waiting_since >= TAP_AFTER_S:
                client.request("confirm")
                waiting_since = float("inf")  # once per prompt
    return 1  # pragma: no cover - the watch stream only ends with an exception


def line(status: dict) -> str:
    s = status["session"]
    now_s = status["now_s"]
    clock = f"[{int(now_s // 60):3d}:{int(now_s % 60):02d}]"
    water = f"{status['water_c']:.1f} C" if status["water_c"] is not None else "--.- C"
    detail = s["title"]
    if s["foot"]:
        detail += f" ({s['foot']} foot)"
    if s["remaining_s"] is not None:
        detail += f", {format_duration(s['remaining_s'])}"
    if s["reps"]:
        detail += f", {s['reps']} x {s['rep_s']:g} s"
    if s["pause_reason"]:
        detail += f" [waiting: {s['pause_reason']}]"
    if s["phase"] == "fault":
        detail += f": {s['fault_message']}"
    return f"{clock} {s['phase']:8s} water {water}  {detail}"
