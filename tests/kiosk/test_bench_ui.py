"""`python -m bench.ui`: the bench runs end to end and reports every figure beside its target.

The figures themselves are never checked here (they depend on the machine and its load); what
is checked is that each one was measured, has the right shape and is printed with its target.
"""

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bench import ui

pytestmark = pytest.mark.processes  # the benchmark's own processes

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_S = 180  # only a hung bench takes this long; a quick run takes seconds


@pytest.fixture(scope="module")
def quick_run() -> dict:
    """One `--quick --json` run: a controller process, two kiosk starts (the first one writes
    the caches), then a kiosk process idle, tapped, soaking and on a massage step."""
    # A session of its own, so that a hung bench is ended together with its controller and kiosk.
    bench = subprocess.Popen([sys.executable, "-m", "bench.ui", "--quick", "--json"], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
    try:
        out, err = bench.communicate(timeout=DEADLINE_S)
    except subprocess.TimeoutExpired:
        os.killpg(bench.pid, signal.SIGKILL)
        out, err = bench.communicate()
        pytest.fail(f"the bench hung:\n{err[-4000:]}")
    assert bench.returncode == 0, f"the bench failed ({bench.returncode}):\n{err[-4000:]}"
    return json.loads(out)


def test_every_figure_is_measured_beside_its_target(quick_run):
    figures = quick_run["figures"]
    assert set(figures) == set(ui.TARGETS)
    for key, figure in figures.items():
        assert isinstance(figure["value"], float) and math.isfinite(figure["value"]), key
        assert figure["value"] >= 0, key
        assert figure["target"] == ui.TARGETS[key]
        assert figure["within"] is (figure["value"] <= figure["target"])


def test_quick_run_has_the_planned_shape(quick_run):
    f, plan = quick_run["figures"], ui.QUICK
    assert quick_run["plan"] == {"starts": 1, "idle_s": 1.0, "soak_s": 1.0, "rounds": 1, "settle_s": 0.2}
    start = f["cold_start_s"]
    assert len(start["runs"]) == len(start["first_frame_s"]) == plan.starts
    assert start["first_frame_s"][0] <= start["runs"][0]  # home is drawn on the first frame or later
    assert start["very_first_s"] > 0
    assert len(f["tap_ms"]["taps"]) == len(f["tap_ms"]["noticed_ms"]) == 2 * plan.rounds  # a card, Back
    assert f["tap_ms"]["max"] >= f["tap_ms"]["value"]
    frame = f["frame_p99_ms"]
    assert frame["transitions"] == 2 * plan.rounds and frame["frames"] >= frame["transitions"]
    assert frame["p50"] <= frame["value"]
    assert f["soak_cpu_pct"]["phase_after"] == "soaking"  # the soak CPU was measured in a soak
    for key in ("idle_cpu_pct", "soak_cpu_pct"):
        assert f[key]["redraws_per_s"] >= 0
    paced = f["soak_cpu_pct"]["paced_step"]  # the ring turning: more frames than in a soak
    assert paced["value"] > 0 and paced["redraws_per_s"] > f["soak_cpu_pct"]["redraws_per_s"]
    assert set(f["rss_mb"]["at"]) == {"home", "taps", "soak", "step", "steps", "done"}
    for memory in f["rss_mb"]["at"].values():
        assert 0 < memory["anon"] + memory["file"] < memory["rss"] + 1e-6  # the rest: shared memory
    assert f["rss_mb"]["value"] == max(m["rss"] for m in f["rss_mb"]["at"].values())
    bare = f["rss_mb"]["bare_kivy"]
    assert 0 < bare["anon"] + bare["file"] < bare["rss"] + 1e-6
    machine = quick_run["machine"]
    assert machine["renderer"] and machine["cpus"] == os.cpu_count()
    assert machine["renderer"] in machine["note"]


def test_the_table_prints_each_figure_with_its_target(quick_run):
    lines = ui.table(quick_run).splitlines()
    rows = [line for line in lines[2:] if line and not line.startswith(" ")][:len(ui.TARGETS)]
    for row, (key, target) in zip(rows, ui.TARGETS.items(), strict=True):
        assert f"<= {target:g} " in row, (key, row)
        assert row.endswith("within" if quick_run["figures"][key]["within"] else "OVER"), row
    assert quick_run["machine"]["note"] in " ".join(ui.table(quick_run).split())  # wrapped
    # Two lines without a target of their own: the floor under the memory, the wait for a touch.
    explained = [line for line in lines if line.startswith("  of which")]
    assert len(explained) == 2 and not any("within" in line or "OVER" in line for line in explained)


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(100, 0, -1)]  # 100 .. 1, unsorted on purpose
    assert ui.percentile(values, 50) == 50.0
    assert ui.percentile(values, 99) == 99.0
    assert ui.percentile(values, 100) == 100.0
    assert ui.percentile([7.0], 99) == 7.0
    assert ui.percentile([1.0, 2.0, 3.0], 0) == 1.0
    assert math.isnan(ui.percentile([], 50))


def test_cpu_seconds_counts_fields_after_the_command_name():
    # The command name may hold spaces and parentheses; utime 250 and stime 50 ticks follow.
    line = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 0 0 20 0 3 0 100 0 0"
    assert ui.cpu_seconds(line, 100.0) == pytest.approx(3.0)


def test_cpu_seconds_of_this_process_agree_with_os_times():
    ticks = os.sysconf("SC_CLK_TCK")
    before = os.times()
    measured = ui.cpu_seconds(Path("/proc/self/stat").read_text(), ticks)
    after = os.times()
    assert before.user + before.system - 2 / ticks <= measured <= after.user + after.system + 2 / ticks


def test_memory_of_this_process():
    status = Path("/proc/self/status").read_text()
    rss, anon, file = (ui.memory_mb(status, name) for name in ("VmRSS", "RssAnon", "RssFile"))
    assert 0 < anon + file < rss + 1e-6  # VmRSS is RssAnon + RssFile + RssShmem
    with pytest.raises(ValueError, match="no VmSwapped line"):
        ui.memory_mb(status, "VmSwapped")


def test_cpu_percent_is_of_one_core():
    assert ui.cpu_percent(10.0, 10.3, 100.0, 110.0) == pytest.approx(3.0)


def test_a_figure_that_could_not_be_measured_is_never_within():
    raw = {"first_start_s": 2.0, "cold_starts_s": [1.0], "first_frames_s": [0.9], "idle_cpu_pct": 1.0,
           "soak_cpu_pct": 1.0, "phase_after_soak": "soaking", "idle_redraws_per_s": 1.0,
           "soak_redraws_per_s": 2.0, "step_cpu_pct": 20.0, "step_redraws_per_s": 30.0,
           "memory_mb": {"home": {"rss": 90.0, "anon": 50.0, "file": 40.0}},
           "bare_memory_mb": {"rss": 80.0, "anon": 45.0, "file": 35.0},
           "taps_ms": [], "noticed_ms": [], "frame_work_ms": [], "frame_interval_ms": [], "transitions": 0}
    figures = ui.summarise(raw, ui.QUICK)
    assert figures["tap_ms"]["within"] is False and figures["frame_p99_ms"]["within"] is False
    assert figures["cold_start_s"]["within"] is True and figures["rss_mb"]["within"] is True
    assert "n/a" in ui.table({"figures": figures, "plan": {"idle_s": 1.0, "soak_s": 1.0},
                              "machine": {"note": "a machine"}})
