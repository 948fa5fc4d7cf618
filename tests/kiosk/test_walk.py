"""`footbath run` (kiosk/walk.py): the real service on a simulated bath, on a temporary socket
with a temporary journal, and a terminal client that walks one session through it.

The service runs in real time compressed by --speed, so these tests take a few seconds; what
is printed is checked against the routine, stage by stage.
"""

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.config import Config, Paths
from kiosk.errors import KioskError
from kiosk.walk import walk
from routines import load_library
from tests.samples import MORNING_ROUTINE

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = {entry.routine.id: entry.routine for entry in load_library(None)}
LINE = re.compile(r"^\[\s*(?P<min>\d+):(?P<sec>\d\d)\] (?P<phase>\w+)\s+water (?P<water>[\d.]+|--\.-) C"
                  r"  (?P<detail>.*)$")
LOCAL = MORNING_ROUTINE


@pytest.fixture
def config(tmp_path):
    routines = tmp_path / "routines"
    routines.mkdir()
    (routines / "morning.yaml").write_text(LOCAL)
    return Config(paths=Paths(routines_dir=routines, state_dir=tmp_path / "state",
                              socket=tmp_path / "staff.sock"))


def parse(text: str) -> tuple[str, list[dict]]:
    header, *rest = text.splitlines()
    lines = []
    for row in rest:
        match = LINE.match(row)
        assert match, row
        lines.append({"t": int(match["min"]) * 60 + int(match["sec"]), "phase": match["phase"],
                      "water": None if match["water"] == "--.-" else float(match["water"]),
                      "detail": match["detail"]})
    return header, lines


def stages(routine) -> list[tuple[str, float | None]]:
    """(title as printed, seconds; None for a prompt) for every step and foot, in order."""
    out = []
    for step in routine.steps:
        for foot in ("left", "right") if step.per_foot else (None,):
            out.append((f"{step.title} ({foot} foot)" if foot else step.title,
                        None if step.wait_for_tap else step.foot_s))
    return out


@pytest.mark.slow
def test_a_shipped_routine_is_walked_to_done_printing_every_step(config, tmp_path):
    routine = SHIPPED["quick"]
    out = io.StringIO()
    assert walk(config, "quick", profile="standard", speed=300, out=out) == 0
    header, lines = parse(out.getvalue())
    assert header.startswith("Quick refresh, standard profile: ")
    assert header.endswith(" once the water is warm (5 L, 500 W, simulated, x300)")

    # The phases in order (a line is printed again when a countdown waits or goes on).
    phases = [line["phase"] for line in lines]
    firsts = [p for i, p in enumerate(phases) if i == 0 or phases[i - 1] != p]
    assert firsts == ["fill", "heating", "ready", "soaking", "steps", "done"]
    assert lines[-1]["detail"] == "All done"
    assert [line["t"] for line in lines] == sorted(line["t"] for line in lines)

    # Every step, for each foot, in the routine's order, and each lasts its length.
    steps = [line for line in lines if line["phase"] == "steps"]
    titles = [line["detail"].split(", ")[0].split(" [")[0] for line in steps]
    shown = [t for i, t in enumerate(titles) if i == 0 or titles[i - 1] != t]
    assert shown == [title for title, _ in stages(routine)]
    begins = [next(line["t"] for line in steps if line["detail"].startswith(title))
              for title, _ in stages(routine)] + [lines[-1]["t"]]
    for (title, length_s), start, end in zip(stages(routine), begins, begins[1:], strict=False):
        if length_s is not None:
            assert end - start >= length_s - 2, title  # seen at the reads, about 0.9 s apart

    # The soak counts its full length once the water is warm, at the routine's target.
    soak_start = next(line["t"] for line in lines if line["phase"] == "soaking")
    assert begins[0] - soak_start >= routine.soak.duration_s - 2
    ready = next(line for line in lines if line["phase"] == "ready")
    assert ready["water"] >= routine.soak.target_c - 1.0  # as first seen: a reading or two after
    assert max(line["water"] for line in lines if line["water"] is not None) <= routine.soak.target_c + 0.5

    # The staff's own journal and socket were never touched.
    assert not (tmp_path / "state").exists() and not (tmp_path / "staff.sock").exists()


def test_an_unknown_routine_is_refused_with_the_known_ones(config):
    with pytest.raises(KioskError, match=r"^no routine 'nope'; known routines: classic, evening, gentle, "
                                         r"quick, morning$"):
        walk(config, "nope", profile="standard", speed=60, out=io.StringIO())


@pytest.mark.processes
def test_footbath_run_refuses_an_unknown_routine_in_one_line(config, tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(f"paths:\n  routines_dir: {config.paths.routines_dir}\n")
    env = {k: v for k, v in os.environ.items() if k != "FOOTBATH_CONFIG"}
    result = subprocess.run([sys.executable, "-m", "kiosk.cli", "--config", str(path), "run",
                             "--terminal", "--routine", "nope"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == ("footbath: no routine 'nope'; known routines: classic, evening, gentle, "
                             "quick, morning\n")


@pytest.mark.parametrize(("speed", "says"), [(0.0, "0"), (-1.0, "-1"), (float("nan"), "nan")])
def test_a_speed_must_be_above_zero(config, speed, says):
    with pytest.raises(KioskError, match=f"^--speed must be above 0, not {says}$"):
        walk(config, "quick", profile="standard", speed=speed, out=io.StringIO())


def test_an_unknown_profile_is_refused(config):
    with pytest.raises(KioskError, match=r"^unknown profile 'hot'; use standard or gentle$"):
        walk(config, "quick", profile="hot", speed=60, out=io.StringIO())
