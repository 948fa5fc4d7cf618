"""The service on the simulated bath (issue 4, sections 1 and 7): config, whole sessions through
the API, outputs within one reading, hot-reloaded routines, recovery after a crash, and a
journal that cannot be written.

Nothing here waits on a clock: the API is served on its own thread, and the bath is stepped by
hand (`step_simulation`, one ~0.9 s read of the real w1thermsensor code on a fake bus, with the
heater, pump and float switch as real gpiozero devices on MockFactory pins). `Bath` is the
harness (tests/kiosk/baths.py) the controller and cleaning tests use too.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hardware.rig import Pin
from kiosk import service
from kiosk.client import ApiError
from kiosk.config import Config, load_config
from kiosk.errors import KioskError
from kiosk.journal import FILE_NAME as JOURNAL_FILE
from kiosk.service import Service
from routines import PROFILES, load_library
from routines.model import GENTLE_SOAK_MAX_S, GENTLE_TARGET_C
from routines.runner import HEAT_PHASES
from tests.kiosk.baths import NO_CLEANING, STAFF_PIN, Bath, local_routine, routine_yaml

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = [entry.routine for entry in load_library(None)]


# -- 1. loading the config, building the bath ---------------------------------------------------

def test_an_empty_config_file_is_valid(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("")
    assert load_config(path) == Config(file=str(path))
    path.write_text("# nothing set: every default\n\n")
    assert load_config(path) == Config(file=str(path))


def test_the_service_builds_the_simulated_bath_when_configured(make_bath, tmp_path):
    for choice in ("true", "auto"):
        # auto off a Pi, or without a 1-Wire bus, is the simulated bath; this bus never exists
        config = make_bath.config(f"""
            hardware:
              simulate: {choice}
              thermometer: {{devices_dir: {tmp_path / 'no-bus'}}}
            """)
        service = Service(config)
        try:
            assert service.simulated and service.sim is not None
            assert service.controller.rig is service.sim.rig
            assert not service.controller.rig.heater_on
            assert service.controller.status()["simulated"] is True
            assert service.socket_path == config.paths.socket and service.socket_path.exists()
        finally:
            service.close()
        assert not service.socket_path.exists()


def test_without_simulation_the_rig_is_built_on_the_configured_pins(make_bath, tmp_path):
    """The real rig's code path, on gpiozero's mock pins (the config's `pin_factory: mock`)."""
    config = make_bath.config(f"""
        hardware:
          simulate: false
          pin_factory: mock
          thermometer: {{devices_dir: {tmp_path / 'bus'}}}
          heater: {{pin: 5}}
          pump: {{pin: 6}}
          stop_button: {{pin: 13}}
        """)
    service = Service(config)
    try:
        assert not service.simulated and service.sim is None
        assert service.controller.rig.pins == {"heater": Pin(5, False), "pump": Pin(6, False),
                                               "stop_button": Pin(13, False)}
        assert not service.controller.rig.heater_on and not service.controller.rig.pump_on
    finally:
        service.close()
    assert service.controller.rig.closed


@pytest.mark.processes
def test_a_bad_config_is_refused_with_its_location_before_any_pin_is_touched(tmp_path):
    """A real `footbath serve` in a subprocess: it stops at the config, having loaded neither
    the service, nor the rig, nor gpiozero; so no pin can have been claimed. (The config knows
    the devices' names from hardware.devices, which is names only.)"""
    bad = tmp_path / "config.yaml"
    bad.write_text("bath:\n  ceiling_c: 45\nhardware:\n  heater: {pin: 99}\n")
    probe = ("import sys; from kiosk.cli import main; code = main(['serve', '--simulate', '--config', "
             f"{str(bad)!r}]); loaded = [m for m in sys.modules if m.split('.')[0] in "
             "('gpiozero', 'w1thermsensor', 'hardware') and m not in ('hardware', 'hardware.devices') "
             "or m == 'kiosk.service']; "
             "print('loaded:', loaded); sys.exit(code)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=60)
    assert done.returncode == 1, done
    assert done.stdout.strip() == "loaded: []"
    errors = [line for line in done.stderr.splitlines() if line.startswith(f"{bad}:")]
    assert [line.split(": ")[0] for line in errors] == [f"{bad}:2:14", f"{bad}:4:17"], done.stderr
    assert "bath.ceiling_c" in errors[0] and "hardware.heater.pin" in errors[1]


# -- 1. a whole session of every shipped routine ------------------------------------------------

def expected_stages(routine) -> list[tuple]:
    """(phase, step index, foot) of every stage a session goes through, in order."""
    stages = [("fill", None, None), ("heating", None, None), ("ready", None, None),
              ("soaking", None, None)]
    for i, step in enumerate(routine.steps):
        for foot in ("left", "right") if step.per_foot else (None,):
            stages.append(("steps", i, foot))
    return [*stages, ("done", None, None)]


@pytest.mark.slow
@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("routine", SHIPPED, ids=[r.id for r in SHIPPED])
def test_a_whole_session_of_each_shipped_routine_through_the_api(make_bath, routine, profile):
    bath = make_bath(water_c=35.5)
    gentle = profile == "gentle"
    target_c = min(routine.soak.target_c, GENTLE_TARGET_C) if gentle else routine.soak.target_c
    soak_s = min(routine.soak.duration_s, GENTLE_SOAK_MAX_S) if gentle else routine.soak.duration_s

    status = bath.start(routine.id, profile, via_api=True)
    assert (status["phase"], status["routine"], status["target_c"]) == ("fill", routine.id, target_c)
    assert not status["heater"] and not status["locked"]

    seen: list[tuple] = []  # (stage, simulated time it was first seen)
    heated_in, pumped_in = set(), set()
    while True:
        status = bath.step()
        s = status["session"]
        stage = (s["phase"], s["step_index"], s["foot"])
        if not seen or seen[-1][0] != stage:
            seen.append((stage, bath.now_s))
            through_api = bath.api("status")  # what a client sees is the same
            assert through_api["session"] == s and through_api["heater"] == status["heater"]
        verdict = bath.controller.verdict
        # The outputs are what the supervisor decided at this very reading, as the pins show.
        assert bath.output("heater") == float(verdict.heater) == float(status["heater"])
        assert bath.output("pump") == float(s["bubbles"] and verdict.pump_allowed)
        assert bath.output("vibration") == pytest.approx(s["vibration_pct"] / 100.0)
        assert bath.output("buzzer") == 0.0
        if status["heater"]:
            heated_in.add(s["phase"])
        if bath.output("pump"):
            pumped_in.add(s["phase"])
        assert status["faults"] == [] and status["water_c"] is not None and status["water_c"] < 40.0
        if s["phase"] == "done":
            break
        if s["waiting_for_tap"]:
            bath.api("confirm")
        assert bath.now_s < 3600, f"the session never ended: {status}"

    # Every stage in order, the soak and every timed step for as long as the routine says.
    assert [stage for stage, _ in seen] == expected_stages(routine)
    times = dict(seen)
    soak_started_s = times[("soaking", None, None)]
    assert seen[4][1] - soak_started_s >= soak_s - 2.0  # a reading is 0.8-1.8 s
    for (stage, started_s), (_, ended_s) in itertools.pairwise(seen[4:]):
        step = routine.steps[stage[1]]
        if not step.wait_for_tap:
            assert ended_s - started_s == pytest.approx(step.foot_s, abs=2.0), stage
    assert heated_in and heated_in <= set(HEAT_PHASES)  # the heater only ever on while heating
    assert "heating" in heated_in
    bubbles = routine.soak.bubbles or any(step.bubbles for step in routine.steps)
    assert bool(pumped_in) == bubbles and pumped_in <= {"soaking", "steps"}

    # Done: nothing is driven, the session is journaled, and the basin waits for a cleaning.
    status = bath.api("status")
    assert status["phase"] == "done" and bath.outputs_off() and status["locked"]
    assert status["cleaning_needed"] is True
    rows = bath.journal("SELECT routine, profile, target_c, outcome, ended_at - started_at "
                        "FROM sessions")
    assert len(rows) == 1 and rows[0][:4] == (routine.id, profile, target_c, "done")
    assert rows[0][4] == pytest.approx(bath.now_s, abs=60.0)  # started at 0 s, ended at done
    (samples,) = bath.journal("SELECT COUNT(*) FROM samples")[0]
    assert samples >= soak_s / 5  # every 5 s, the batches flushed at the end


@pytest.mark.parametrize("inject", ["unplug_sensor", "glitch_85", "crc_burst", "lift_probe"])
def test_the_heater_is_off_at_the_very_next_reading_after_a_bad_one(make_bath, inject):
    bath = make_bath(water_c=30.0)
    bath.start("classic")
    bath.to_phase("heating")
    bath.until(lambda s: bath.output("heater") == 1.0, within_s=10, what="the heater on")
    fault = getattr(bath.sim.bath, inject)
    fault(1) if inject == "crc_burst" else fault()
    status = bath.step()
    if inject == "lift_probe":  # still a valid reading; the fall rule needs a few of them
        assert status["heater"] and bath.output("heater") == 1.0
        status = bath.until(lambda s: not s["heater"], within_s=120, what="the heater off")
    assert bath.output("heater") == 0.0 and not status["heater"]
    if inject in ("glitch_85", "crc_burst"):  # one glitch is no fault: heating goes on at once
        status = bath.step()
        assert status["faults"] == [] and status["heater"] and bath.output("heater") == 1.0


# -- 1. routines hot reload ---------------------------------------------------------------------

def offered(bath: Bath) -> dict[str, dict]:
    return {r["id"]: r for r in bath.api("routines")}


def test_a_changed_routine_is_picked_up_between_sessions_and_a_running_one_keeps_its_own(
        make_bath):
    config = make_bath.config(NO_CLEANING)
    path = local_routine(config, routine_yaml("Mine one", 60, "Toe rotation"))
    bath = make_bath(NO_CLEANING, water_c=37.3)
    assert offered(bath)["mine"]["name"] == "Mine one"
    bath.start("mine", via_api=True)
    bath.to_phase("soaking")

    path.write_text(routine_yaml("Mine two", 120, "Ankle circles"))
    bath.until(lambda s: offered(bath)["mine"]["name"] == "Mine two", within_s=5, what="reloaded")
    status = bath.api("status")
    assert status["routine_name"] == "Mine one" and status["routine_errors"] == []
    assert status["remaining_s"] <= 60.0  # the soak it started with

    titles = set()
    status = bath.until(lambda s: titles.add(s["session"]["title"]) or s["phase"] == "done",
                        within_s=600, what="the first session done")
    assert "Toe rotation" in titles and "Ankle circles" not in titles

    status = bath.start("mine", via_api=True)
    assert status["routine_name"] == "Mine two"
    status = bath.to_phase("soaking")
    assert status["remaining_s"] > 60.0


def test_a_bad_file_is_kept_out_with_its_errors_in_status_and_the_last_good_version_stays(
        make_bath):
    config = make_bath.config(NO_CLEANING)
    path = local_routine(config, routine_yaml("Mine one", 60, "Toe rotation"))
    broken_from_the_start = local_routine(config, "id: other\nname: [unclosed\n", "other.yaml")
    bath = make_bath(NO_CLEANING, water_c=37.3)
    status = bath.api("status")
    assert "other" not in offered(bath) and "mine" in offered(bath)
    assert [e.split(":")[0] for e in status["routine_errors"]] == [str(broken_from_the_start)]

    path.write_text(routine_yaml("Mine two", 120, "Ankle circles", target_c=45.0))
    status = bath.until(lambda s: len(s["routine_errors"]) == 2, within_s=5, what="the error shown")
    error = next(e for e in status["routine_errors"] if e.startswith(f"{path}:"))
    assert error.startswith(f"{path}:5:13: soak.target_c: ")  # FILE:LINE:COL: field: what is wrong
    assert offered(bath)["mine"]["name"] == "Mine one"  # the last good version stays on offer...
    assert bath.start("mine", via_api=True)["routine_name"] == "Mine one"  # ...and in use
    bath.api("stop")

    path.write_text(routine_yaml("Mine three", 90, "Ankle circles"))  # fixed
    status = bath.until(lambda s: len(s["routine_errors"]) == 1, within_s=5, what="the error gone")
    assert offered(bath)["mine"]["name"] == "Mine three"

    path.unlink()  # a removed file takes its routine away; the shipped ones stay
    bath.until(lambda s: "mine" not in offered(bath), within_s=5, what="the routine gone")
    assert {r.id for r in SHIPPED} <= set(offered(bath))


def test_the_routines_dir_broken_mid_session_leaves_the_session_alone(make_bath):
    config = make_bath.config()
    path = local_routine(config, routine_yaml("Mine one", 60, "Toe rotation"))
    bath = make_bath(water_c=37.3)
    bath.start("mine", via_api=True)
    bath.to_phase("soaking")
    path.write_bytes(b"\x00\xff not yaml {{{")
    local_routine(config, "- a list\n- not a routine\n", "new.yaml")
    (config.paths.routines_dir / "huge.yaml").write_bytes(b"# " + b"x" * 300_000)
    status = bath.until(lambda s: len(s["routine_errors"]) == 3, within_s=5, what="the errors shown")
    assert status["phase"] == "soaking" and status["faults"] == []
    status = bath.to_phase("done", within_s=600)
    assert status["faults"] == [] and status["routine_name"] == "Mine one"
    assert bath.journal("SELECT routine, outcome FROM sessions") == [("mine", "done")]
    shutil.rmtree(config.paths.routines_dir)  # the whole dir gone: the shipped routines remain
    status = bath.until(lambda s: "mine" not in offered(bath), within_s=5, what="the dir gone noticed")
    assert set(offered(bath)) == {r.id for r in SHIPPED} and status["routine_errors"] == []


# -- 1. after a crash or a power loss -----------------------------------------------------------

def test_after_a_crash_the_session_is_interrupted_and_nothing_heats_until_a_person_starts(make_bath):
    config_extra = "cleaning:\n  contact_s: 60\n"
    crashed = make_bath(config_extra, water_c=30.0, staff=True, serve=False)
    crashed.start("classic")
    crashed.to_phase("heating")
    crashed.until(lambda s: s["heater"], within_s=10, what="the heater on")
    lost_id = crashed.controller.session_id
    # The process dies here: no close(), no journal entry for the end. Its socket file stays
    # behind, but nothing answers on it any more. (Its pins are mock pins of its own.)
    crashed.service.server.listener.close()
    assert crashed.service.socket_path.exists()

    bath = make_bath(config_extra, water_c=30.0)  # the restart, on the same state dir and socket
    status = bath.api("status")
    assert status["interrupted"] == [lost_id] and status["phase"] == "idle" and status["locked"]
    assert bath.journal("SELECT id, outcome FROM sessions") == [(lost_id, "interrupted")]
    for _ in range(300):  # cold water, a thermometer that works: still nothing heats
        status = bath.step()
        assert bath.output("heater") == 0.0 and not status["heater"] and status["locked"]
    assert status["faults"] == [] and status["interrupted"] == [lost_id]

    # A person has to act: the basin is cleaned (someone may have used it), then a start heats.
    assert status["cleaning_needed"]
    with pytest.raises(ApiError, match="needs cleaning"):
        bath.api("start", routine="classic")
    bath.api("clean", pin=STAFF_PIN, action="start")
    bath.api("clean", pin=STAFF_PIN, action="next")
    bath.api("clean", pin=STAFF_PIN, action="next")
    bath.until(lambda s: s["cleaning"]["remaining_s"] == 0.0, within_s=61, what="the contact time")
    bath.api("clean", pin=STAFF_PIN, action="next")
    assert bath.api("clean", pin=STAFF_PIN, action="next")["cleaning_needed"] is False
    status = bath.api("start", routine="classic")
    assert status["interrupted"] == []
    bath.to_phase("heating")
    bath.until(lambda s: bath.output("heater") == 1.0, within_s=10, what="heating after a start")


# -- 7. the journal's card full or read-only mid-session ----------------------------------------

@pytest.mark.parametrize("failure", ["full", "read-only"])
def test_a_journal_that_cannot_be_written_never_stops_the_session(make_bath, failure):
    local_routine(make_bath.config(), routine_yaml("Long soak", 1800, "Toe rotation"))
    bath = make_bath(NO_CLEANING, water_c=37.5)
    bath.start("mine", via_api=True)
    bath.to_phase("soaking")
    db = bath.controller.journal.db  # break it through SQLite itself, as the card would
    if failure == "full":
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count={pages}")  # SQLITE_FULL once a new page is needed
    else:
        db.execute("PRAGMA query_only=1")  # every write refused, as on a card remounted read-only
    status = bath.until(lambda s: s["journal_error"] is not None, within_s=1500, what="reported")
    assert "journal cannot be written" in bath.api("status")["journal_error"]
    assert status["phase"] == "soaking" and status["faults"] == []
    broke_s = bath.now_s
    for _ in range(60):  # the session goes on, the outputs exactly as the supervisor says
        status = bath.step()
        assert bath.output("heater") == float(bath.controller.verdict.heater)
        assert status["journal_error"] is not None and status["phase"] == "soaking"
    if failure == "full":
        db.execute("PRAGMA max_page_count=1073741823")
    else:
        db.execute("PRAGMA query_only=0")
    status = bath.until(lambda s: s["journal_error"] is None, within_s=70, what="the error cleared")
    assert bath.api("status")["journal_error"] is None and status["phase"] == "soaking"
    bath.api("stop")
    assert bath.journal("SELECT outcome FROM sessions") == [("stopped",)]
    # The samples taken while the card could not be written were kept and written after.
    ats = [at for (at,) in bath.journal("SELECT at FROM samples ORDER BY at")]
    gaps = [b - a for a, b in itertools.pairwise(ats)]
    assert max(gaps) < 7.0 and len(ats) > (bath.now_s - broke_s) / 7.0


def test_service_close_releases_everything(make_bath):
    bath = make_bath(water_c=30.0)
    bath.start("classic")
    bath.to_phase("heating")
    bath.until(lambda s: s["heater"], within_s=10, what="the heater on")
    session_id = bath.controller.session_id
    bath.close()
    assert bath.controller.rig.closed and not bath.service.socket_path.exists()
    assert bath.journal("SELECT id, outcome FROM sessions") == [(session_id, "interrupted")]


def test_a_second_service_on_a_live_socket_is_refused_and_claims_nothing(make_bath, tmp_path):
    first = make_bath(water_c=30.0)
    second_state = dataclasses.replace(first.config.paths, state_dir=tmp_path / "other-state")
    config = dataclasses.replace(first.config, paths=second_state)
    with pytest.raises(KioskError, match="already answering"):
        Service(config, simulate=True)
    assert first.api("status")["phase"] == "idle"  # the first one is undisturbed
    # The socket is checked first: the second one never opened a journal or claimed a pin.
    assert not (tmp_path / "other-state" / JOURNAL_FILE).exists()


# -- the GPIO chip (hardware.gpio_chip) ----------------------------------------------------------

@pytest.fixture
def fake_lgpio(monkeypatch):
    """gpiozero's real LGPIOFactory over a stand-in for the lgpio module, whose gpiochip_open
    behaves as lgpio's does (lgpio.error 'can not open gpiochip') and opens only chip 3: the
    chip the factory is given is the one it opens, with no GPIO hardware here."""
    import types

    fake = types.ModuleType("lgpio")

    def constant(name):  # lgpio's flags, which gpiozero reads when it is imported
        if name.isupper():
            return 0
        raise AttributeError(name)

    fake.__getattr__ = constant
    fake.error = type("error", (Exception,), {})
    fake.opened = []

    def gpiochip_open(chip):
        if chip != 3:
            raise fake.error("can not open gpiochip")
        fake.opened.append(chip)
        return 100 + chip

    fake.gpiochip_open = gpiochip_open
    fake.gpiochip_close = lambda handle: None
    monkeypatch.setitem(sys.modules, "lgpio", fake)
    # gpiozero's lgpio module imported afresh over the stand-in, and forgotten after the test.
    monkeypatch.setitem(sys.modules, "gpiozero.pins.lgpio", None)
    del sys.modules["gpiozero.pins.lgpio"]
    return fake


def test_the_lgpio_factory_opens_the_configured_gpio_chip(fake_lgpio):
    from kiosk.service import _named_factory

    factory = _named_factory("lgpio", 3)
    try:
        assert type(factory).__name__ == "LGPIOFactory" and factory.chip == 3
        assert fake_lgpio.opened == [3]
    finally:
        factory.close()


def test_a_gpio_chip_that_cannot_be_opened_is_named_in_the_error(fake_lgpio, make_bath, tmp_path):
    from kiosk.service import build_rig

    config = make_bath.config(f"""
        hardware:
          simulate: false
          pin_factory: lgpio
          gpio_chip: 99
          thermometer: {{devices_dir: {tmp_path / 'bus'}}}
        """)
    with pytest.raises(KioskError) as caught:
        build_rig(config, on_stop=None)
    message = str(caught.value)
    assert message.startswith("hardware.gpio_chip 99: lgpio cannot open /dev/gpiochip99 (")
    assert "can not open gpiochip" in message and "gpiodetect" in message  # lgpio's words, then ours
    assert fake_lgpio.opened == []


def test_a_gpio_chip_is_refused_beside_another_factory():
    from kiosk.service import _named_factory

    with pytest.raises(KioskError, match=r"hardware\.gpio_chip is for the lgpio pin factory only"):
        _named_factory("native", 4)


def test_the_simulated_bus_lives_in_ram_the_units_runtime_directory_first(tmp_path, monkeypatch):
    runtime, shm = tmp_path / "run", tmp_path / "shm"
    runtime.mkdir()
    shm.mkdir()
    monkeypatch.setattr(service, "SHM", shm)
    monkeypatch.setenv("RUNTIME_DIRECTORY", f"{runtime}:{tmp_path / 'other'}")
    assert service.ram_dir() == str(runtime)
    # Outside systemd, /dev/shm; neither there: the temp dir's default (None).
    monkeypatch.delenv("RUNTIME_DIRECTORY")
    assert service.ram_dir() == str(shm)
    shm.rmdir()
    assert service.ram_dir() is None
