"""`footbath run` (kiosk/walk.py): a whole session on a simulated bath, printed to a terminal.

`walk()` is called with a sleep that records instead of sleeping, so a 20-minute session runs
in milliseconds; its printed clock is then checked against the routine, step by step.
"""

import io
import math
import re
from pathlib import Path

import pytest

from kiosk.config import Bath, Config, Paths
from kiosk.errors import KioskError
from kiosk.walk import ROOM_C, START_C, TAP_AFTER_S, WATER_J_PER_L_C, walk
from routines import GENTLE, PROFILES, load_library
from routines.model import GENTLE_SOAK_MAX_S, GENTLE_TARGET_C, format_duration
from routines.runner import READY_TOLERANCE_C

SHIPPED = [entry.routine for entry in load_library(None)]
LINE = re.compile(r"^\[\s*(?P<min>\d+):(?P<sec>\d\d)\] (?P<phase>\w+)\s+water (?P<water>[\d.]+|--\.-) C"
                  r"  (?P<detail>.*)$")


class Sleeps:
    def __init__(self):
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def walked(config, routine_id, profile="standard", speed=60.0):
    out, sleeps = io.StringIO(), Sleeps()
    status = walk(config, routine_id, profile=profile, speed=speed, out=out, sleep=sleeps)
    header, *rest = out.getvalue().splitlines()
    lines = []
    for text in rest:
        match = LINE.match(text)
        assert match, text
        lines.append({
            "t": int(match["min"]) * 60 + int(match["sec"]),
            "phase": match["phase"],
            "water": None if match["water"] == "--.-" else float(match["water"]),
            "detail": match["detail"],
        })
    return status, header, lines, sleeps


@pytest.fixture
def config(tmp_path):
    return Config(paths=Paths(routines_dir=tmp_path / "routines"))


def expected_stages(routine):
    """(title as printed, seconds it lasts; None for a prompt) for every step and foot."""
    stages = []
    for step in routine.steps:
        for foot in ("left", "right") if step.per_foot else (None,):
            title = f"{step.title} ({foot} foot)" if foot else step.title
            stages.append((title, None if step.wait_for_tap else step.foot_s))
    return stages


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("routine", SHIPPED, ids=[r.id for r in SHIPPED])
def test_every_shipped_routine_reaches_done_through_every_step(config, routine, profile):
    status, header, lines, sleeps = walked(config, routine.id, profile)
    assert status == 0
    assert header.startswith(f"{routine.name}, {profile} profile: ")

    phases = [line["phase"] for line in lines]
    steps = [line for line in lines if line["phase"] == "steps"]
    assert phases == ["fill", "heating", "ready", "soaking"] + ["steps"] * len(steps) + ["done"]
    assert lines[-1]["detail"] == "All done"

    # Every step is printed, for each foot where it applies, in the routine's order.
    stages = expected_stages(routine)
    assert [line["detail"].split(", ")[0] for line in steps] == [title for title, _ in stages]

    # The clock: the soak runs its length (capped for the gentle profile), each timed step its
    # length, each prompt until the simulated customer taps.
    soak_s = routine.soak.duration_s
    if profile == GENTLE:
        soak_s = min(soak_s, GENTLE_SOAK_MAX_S)
    soak = lines[3]
    assert soak["detail"] == f"Soak, {format_duration(soak_s)}"
    times = [line["t"] for line in steps] + [lines[-1]["t"]]
    assert times[0] - soak["t"] == soak_s
    for (_, length_s), start, end in zip(stages, times[:-1], times[1:], strict=True):
        assert end - start == math.ceil(length_s if length_s is not None else TAP_AFTER_S)

    # One sleep per simulated second, each compressed by the speed.
    assert len(sleeps.calls) == lines[-1]["t"]
    assert set(sleeps.calls) == {1 / 60}


@pytest.mark.parametrize("routine", SHIPPED, ids=[r.id for r in SHIPPED])
def test_the_water_is_held_at_the_profiles_target(config, routine):
    for profile in PROFILES:
        _, _, lines, _ = walked(config, routine.id, profile)
        target_c = routine.soak.target_c
        if profile == GENTLE:
            target_c = min(target_c, GENTLE_TARGET_C)
        soaking = [line["water"] for line in lines if line["phase"] in ("ready", "soaking")]
        assert soaking and all(target_c - READY_TOLERANCE_C - 1 / 16 <= w <= target_c + 0.1
                               for w in soaking), (profile, soaking)
        assert max(line["water"] for line in lines if line["water"] is not None) <= target_c + 0.1


def test_warming_takes_what_the_heat_balance_says(config):
    """5 L from 30 C to 37.5 C at 500 W: at least the loss-free time, at most the time with the
    largest loss on the way (the loss at the ready temperature)."""
    _, _, lines, _ = walked(config, "classic")
    heating, ready = lines[1], lines[2]
    warm_c = ready["water"]
    joules = config.bath.litres * WATER_J_PER_L_C * (warm_c - START_C)
    loss_at_ready_w = 120.0 / (38.0 - ROOM_C) * (warm_c - ROOM_C)
    seconds = ready["t"] - heating["t"]
    assert joules / config.bath.heater_w <= seconds <= joules / (config.bath.heater_w - loss_at_ready_w)


def test_a_larger_basin_takes_longer_to_warm(tmp_path):
    def warm_s(litres):
        config = Config(paths=Paths(routines_dir=tmp_path), bath=Bath(litres=litres))
        _, header, lines, _ = walked(config, "quick")
        assert f"({litres:g} L, 500 W, simulated, x60)" in header
        return lines[2]["t"] - lines[1]["t"]

    assert warm_s(10.0) > 1.9 * warm_s(5.0)


def test_the_header_gives_the_profiles_length(config):
    standard = walked(config, "evening", "standard")[1]
    gentle = walked(config, "evening", "gentle")[1]
    # evening soaks 12 min; the gentle profile caps the soak at 10 min.
    assert standard.startswith("Evening unwind, standard profile: 19 min 40 s once the water is warm")
    assert gentle.startswith("Evening unwind, gentle profile: 17 min 40 s once the water is warm")


def test_a_local_routine_is_walked(config):
    folder: Path = config.paths.routines_dir
    folder.mkdir()
    (folder / "short.yaml").write_text(
        "id: short\nname: Short one\ndescription: A quick check.\n"
        "soak: {target_c: 36.0, duration_s: 60}\n"
        "steps:\n  - {title: Rest, say: Breathe slowly., duration_s: 5}\n")
    status, header, lines, sleeps = walked(config, "short", speed=600)
    assert status == 0
    assert header.startswith("Short one, standard profile: 1 min 5 s")
    assert [line["detail"] for line in lines if line["phase"] == "steps"] == ["Rest, 5 s"]
    assert set(sleeps.calls) == {1 / 600}


def test_an_unknown_routine_names_the_known_ones(config):
    with pytest.raises(KioskError, match="no routine 'nope'; known routines: classic, evening"):
        walk(config, "nope", profile="standard", speed=60, out=io.StringIO(), sleep=Sleeps())


@pytest.mark.parametrize("speed", [0.0, -1.0, float("nan")])
def test_a_speed_must_be_above_zero(config, speed):
    sleeps = Sleeps()
    with pytest.raises(KioskError, match="--speed must be above 0"):
        walk(config, "classic", profile="standard", speed=speed, out=io.StringIO(), sleep=sleeps)
    assert sleeps.calls == []


def test_an_unknown_profile_is_refused(config):
    with pytest.raises(KioskError, match="unknown profile 'hot'; use standard or gentle"):
        walk(config, "classic", profile="hot", speed=60, out=io.StringIO(), sleep=Sleeps())


def test_a_heater_too_weak_for_the_basin_stops_the_demo(tmp_path):
    # 50 W against about 7.5 W lost per degree above the room: the water settles near 28.7 C.
    config = Config(paths=Paths(routines_dir=tmp_path), bath=Bath(litres=5.0, heater_w=50.0))
    out = io.StringIO()
    with pytest.raises(KioskError, match=r"a 50 W heater cannot bring 5 L to 38\.0 C.*bath\.heater_w"):
        walk(config, "classic", profile="standard", speed=60, out=out, sleep=Sleeps())
    assert "done" not in out.getvalue()
