"""`footbath run` in a terminal: a whole session on a simulated bath, time compressed.

A stand-in until the bath controller and the touchscreen exist: prompts are answered by
themselves after a moment and the water follows a simple heat balance.
"""

from __future__ import annotations

import sys
import time

from routines import RoutineError, Session, format_duration, load_library

from .config import Config
from .errors import KioskError

WATER_J_PER_L_C = 4186.0
ROOM_C = 22.0
LOSS_W_PER_C = 120.0 / (38.0 - ROOM_C)  # about 120 W lost at 38 C from an open basin
TAP_AFTER_S = 5.0  # a simulated customer answers each prompt after this long
START_C = 30.0
# A heater too weak for the basin's losses never gets there: give up instead of looping forever.
# (The real controller's heating check faults much sooner; this only keeps the demo finite.)
MAX_WARMING_S = 2 * 3600.0


def walk(config: Config, routine_id: str, *, profile: str, speed: float, out=sys.stdout,
         sleep=time.sleep, step_s: float = 1.0) -> int:
    if not speed > 0:
        raise KioskError(f"--speed must be above 0, not {speed:g}")
    library = load_library(config.paths.routines_dir, ceiling_c=config.bath.ceiling_c)
    try:
        routine = library.get(routine_id)
        session = Session.start(routine, profile=profile, now_s=0.0)
    except RoutineError as exc:
        raise KioskError(str(exc)) from None
    heat_capacity = config.bath.litres * WATER_J_PER_L_C
    water_c, now_s, waiting_since = START_C, 0.0, 0.0
    # The session's own estimate: the gentle profile shortens the soak.
    length_s = session.snapshot().session_remaining_s
    print(f"{routine.name}, {profile} profile: {format_duration(length_s)} once the water is warm "
          f"({config.bath.litres:g} L, {config.bath.heater_w:g} W, simulated, x{speed:g})", file=out)
    shown = None
    warming_s = 0.0
    while True:
        snap = session.snapshot()
        key = (snap.phase, snap.step_index, snap.foot, snap.pause_reason)
        if key != shown:
            shown = key
            print(_line(now_s, snap), file=out)
            waiting_since = now_s
        if snap.phase in ("done", "stopped", "fault"):
            return 0
        if snap.phase == "heating":
            warming_s += step_s
            if warming_s > MAX_WARMING_S:
                raise KioskError(
                    f"the simulated water is still at {water_c:.1f} C after "
                    f"{format_duration(warming_s)} of warming: a {config.bath.heater_w:g} W heater "
                    f"cannot bring {config.bath.litres:g} L to {snap.target_c:.1f} C against the "
                    "basin's losses; check bath.heater_w and bath.litres")
        if snap.waiting_for_tap and now_s - waiting_since >= TAP_AFTER_S:
            session.confirm(now_s=now_s)
            continue
        heating = snap.heat_wanted and water_c < snap.target_c
        power_w = (config.bath.heater_w if heating else 0.0) - LOSS_W_PER_C * (water_c - ROOM_C)
        water_c += power_w * step_s / heat_capacity
        now_s += step_s
        session.tick(now_s=now_s, water_c=round(water_c * 16) / 16)
        sleep(step_s / speed)


def _line(now_s: float, snap) -> str:
    clock = f"[{int(now_s // 60):3d}:{int(now_s % 60):02d}]"
    water = f"{snap.water_c:.1f} C" if snap.water_c is not None else "--.- C"
    detail = snap.title
    if snap.foot:
        detail += f" ({snap.foot} foot)"
    if snap.remaining_s is not None:
        detail += f", {format_duration(snap.remaining_s)}"
    if snap.reps:
        detail += f", {snap.reps} x {snap.rep_s:g} s"
    if snap.pause_reason:
        detail += f" [waiting: {snap.pause_reason}]"
    return f"{clock} {snap.phase:8s} water {water}  {detail}"
