"""Glitches, an over-hot fill and the second line of defence, through the real service: the
simulated bath's probe is read by the real w1thermsensor code from real w1_slave files, the
heater and the safety relay are real gpiozero devices on mock pins, and every fault is
injected for a time (a fake bus may be read many times a second: only time means anything).
"""

from __future__ import annotations

import itertools

import pytest

from hardware import reading as r
from hardware import safety as s
from hardware.simbath import SIM_SAFETY_RELAY
from hardware.w1file import SIMULATED_CHECK_ID, SIMULATED_SENSOR_ID
from routines.runner import NO_READING
from tests.kiosk.baths import NO_CLEANING, Bath, local_routine, routine_yaml

GLITCHES = {  # what the probe does for a while, and for how long
    "85 C for 1 s": (lambda bath: bath.glitch_85(1.0), 1.0),
    "CRC errors for 5 s": (lambda bath: bath.crc_burst(5.0), 5.0),
    "unplugged for 8 s": (lambda bath: bath.unplug_sensor(8.0), 8.0),
}


def heating_flat_out(bath: Bath) -> dict:
    bath.start("classic")
    bath.to_phase("heating")
    return bath.until(lambda status: status["heater"], within_s=60, what="the heater on")


def through_glitch(bath: Bath, inject, length_s: float) -> list[dict]:
    """Inject the glitch, then the statuses of every reading until two after the first good one."""
    inject(bath.sim.bath)
    statuses, good = [], 0
    while good < 2:
        status = bath.step()
        statuses.append(status)
        good += status["water_c"] is not None
        assert bath.now_s < 60.0 + length_s + bath.sim.bath.elapsed_s, "the glitch never ended"
    return statuses


@pytest.mark.parametrize("name", GLITCHES)
def test_a_glitch_while_warming_turns_the_heater_off_and_heat_comes_back_with_the_first_good_reading(
        make_bath, name):
    inject, length_s = GLITCHES[name]
    bath = make_bath(NO_CLEANING, water_c=30.0)
    heating_flat_out(bath)
    onset_s = bath.now_s
    statuses = through_glitch(bath, inject, length_s)
    bad, first_good = statuses[:-2], statuses[-2]
    assert bad and all(not st["heater"] and st["water_c"] is None for st in bad)  # off at once
    assert bath.now_s - onset_s >= length_s - 1.0
    assert first_good["heater"], "heat back at the first good reading"
    assert all(not st["faults"] and st["phase"] == "heating" for st in statuses)
    assert bath.controller.law.relay.closures == 2  # the warm-up resumed, not a new cycle


@pytest.mark.parametrize("name", GLITCHES)
def test_a_glitch_in_the_soak_pauses_the_countdown_and_saying_why_it_goes_on_by_itself(make_bath, name):
    inject, length_s = GLITCHES[name]
    bath = make_bath(NO_CLEANING, water_c=37.8)
    bath.start("classic")
    bath.to_phase("soaking")
    before = bath.step()
    statuses = through_glitch(bath, inject, length_s)
    paused = [st for st in statuses if st["water_c"] is None]
    assert paused and all(st["session"]["pause_reason"] == NO_READING for st in paused)
    assert statuses[-2]["session"]["pause_reason"] is None
    # The countdown counted only the time after a good reading (each status carries its time).
    seen = [before, *statuses]
    good_s = sum(st1["now_s"] - st0["now_s"] for st0, st1 in itertools.pairwise(seen)
                 if st0["water_c"] is not None)
    counted_s = before["remaining_s"] - statuses[-1]["remaining_s"]
    assert counted_s == pytest.approx(good_s, abs=0.01)
    assert seen[-1]["now_s"] - seen[0]["now_s"] >= length_s
    assert all(st["phase"] == "soaking" and not st["faults"] for st in statuses)


def test_a_probe_unplugged_for_twelve_seconds_is_a_fault_at_ten(make_bath):
    bath = make_bath(NO_CLEANING, water_c=30.0)
    heating_flat_out(bath)
    onset_s = bath.now_s
    bath.sim.bath.unplug_sensor(12.0)
    status = bath.until(lambda st: st["faults"], within_s=12.0, what="the fault")
    assert [f["code"] for f in status["faults"]] == [r.MISSING] and status["phase"] == "fault"
    assert 10.0 <= bath.now_s - onset_s < 10.0 + 1.9  # by time: the read under way when it came
    assert not status["heater"] and status["locked"]


def test_an_over_hot_fill_climbing_through_the_target_never_says_ready(make_bath):
    """The readings climb from 30 to 43 C at 0.2 C/s, as a lagging probe in a too-hot fill does:
    on the way up through the target no status may say ready; the screen says it is cooling."""
    bath = make_bath(NO_CLEANING, water_c=30.0)
    bath.start("classic")
    bath.to_phase("heating")
    probe, started_s = bath.sim.bath, bath.now_s
    statuses = []
    while not statuses or statuses[-1]["water_c"] is None or statuses[-1]["water_c"] < 43.0:
        probe.force_reading(min(43.0, 30.0 + 0.2 * (bath.now_s - started_s)))
        statuses.append(bath.step())
    assert not any(st["phase"] == "ready" for st in statuses)
    passing = [st for st in statuses if st["water_c"] is not None and 37.5 <= st["water_c"] <= 38.5]
    assert len(passing) >= 3 and all(st["phase"] == "heating" for st in passing)
    cooling = [st["session"]["title"] for st in statuses
               if st["session"] and st["water_c"] is not None and 38.6 <= st["water_c"] < 41.0]
    assert cooling and set(cooling) == {"Letting the water cool"}
    assert statuses[-1]["faults"][0]["code"] == s.OVERHEAT  # 41 C: never by a reading at ready


def test_a_basin_that_settles_at_the_target_says_ready(make_bath):
    bath = make_bath(NO_CLEANING, water_c=37.9)
    bath.start("classic")
    bath.to_phase("heating")
    status = bath.until(lambda st: st["phase"] == "ready", within_s=300, what="ready")
    assert abs(status["water_c"] - status["target_c"]) <= 0.5


def test_a_lowered_ceiling_holds_the_heat_below_it_when_the_target_is_at_it(make_bath):
    """The config's ceiling reaches the control law as well as the supervisor: with a routine at
    the ceiling, the law keeps its own limits under it rather than leaning on the veto."""
    lowered = NO_CLEANING + "bath:\n  ceiling_c: 37.0\n"
    local_routine(make_bath.config(lowered), routine_yaml("Mine", 600, "Toe rotation", target_c=37.0))
    bath = make_bath(lowered, water_c=33.0)
    assert bath.controller.law.ceiling_c == 37.0
    bath.start("mine")
    status = bath.to_phase("soaking")
    for _ in range(400):
        status = bath.step()
        assert not (status["heater"] and status["water_c"] >= 37.0), status
        reasons = bath.controller.verdict.reasons  # the law never asked for heat at the ceiling
        assert not (s.AT_CEILING in reasons and s.NOT_WANTED not in reasons), reasons
    assert not status["faults"]


# -- the second line of defence -------------------------------------------------------------------

SAFETY_RELAY = f"""
cleaning:
  required: false
hardware:
  safety_relay: {{pin: {SIM_SAFETY_RELAY.number}}}
"""

CHECK_PROBE = f"""
cleaning:
  required: false
hardware:
  thermometer: {{sensor_id: {SIMULATED_SENSOR_ID}, check_sensor_id: {SIMULATED_CHECK_ID}}}
"""


def test_the_safety_relay_is_closed_only_while_a_session_may_heat(make_bath):
    bath = make_bath(SAFETY_RELAY, water_c=30.0)
    rig = bath.controller.rig
    assert "safety_relay" in rig.pins and not rig.safety_relay_on  # idle: open
    status = heating_flat_out(bath)
    assert status["safety_relay"] and rig.safety_relay_on
    bath.op("stop")
    assert not bath.step()["safety_relay"] and not rig.safety_relay_on and not rig.heater_on


def test_a_welded_heater_relay_behind_a_safety_relay_keeps_the_water_under_the_ceiling(make_bath):
    """Feet in, the heater relay welds as the heat comes back on: the safety relay opens at the
    target's allowance whatever the heater relay does (the law's estimate, which believes its
    relay, sees the extra heat only through the probe: the water passes the target by ~1 C)."""
    bath = make_bath(SAFETY_RELAY, water_c=37.8)
    bath.start("classic")
    bath.to_phase("soaking")
    bath.sim.bath.stick_relay()
    peak_c = 0.0
    for _ in range(700):  # ten minutes of a soak
        bath.step()
        peak_c = max(peak_c, bath.sim.bath.water_c)
    assert peak_c <= 40.0
    bath.sim.bath.unplug_sensor()  # a fault opens the safety relay at once: the element goes cold
    status = bath.until(lambda st: st["faults"], within_s=12.0, what="the fault")
    assert not status["safety_relay"] and not bath.sim.bath.heater_effective


def test_a_probe_reading_two_degrees_low_beside_a_second_probe_is_a_fault(make_bath):
    bath = make_bath(CHECK_PROBE, water_c=37.8)
    bath.start("classic")
    bath.to_phase("soaking")
    assert bath.step()["check_c"] is not None
    onset_s = bath.now_s
    bath.sim.bath.drift_probe(-2.0, 0.0)
    peak_c = 0.0

    def faulted(status: dict) -> bool:
        nonlocal peak_c
        peak_c = max(peak_c, bath.sim.bath.water_c)
        return bool(status["faults"])

    status = bath.until(faulted, within_s=40.0, what="the fault")
    assert [f["code"] for f in status["faults"]] == [s.PROBES_DISAGREE]
    assert bath.now_s - onset_s >= 30.0 and peak_c <= 40.5
