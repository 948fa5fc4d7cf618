"""The supervisor in the loop on the simulated bath (seeded, so every run is the same): each
injected fault is caught as DESIGN.md section 3 asks, and a healthy session with feet going in
never faults, on every bath variant."""

import pytest

from bench.faults import CASES, Loop, print_table, run_all, run_case, targets_met
from hardware import reading as r
from hardware import safety as s
from hardware.reading import POWER_ON, SensorOutput
from hardware.safety import SafetyError
from hardware.thermal import BathParams
from hardware.thermometer import Thermometer

pytestmark = pytest.mark.slow  # whole simulated sessions with faults injected

TARGET_C = 38.0
VARIANTS = [BathParams(heater_w=w, litres=litres, stirred=stirred)
            for w in (300.0, 500.0) for litres in (5.0, 8.0) for stirred in (False, True)]


def variant_id(params):
    return f"{params.heater_w:.0f}W-{params.litres:.0f}L-{'stirred' if params.stirred else 'still'}"


EXPECTED = {
    "probe_lifted": {s.PROBE_OUT},
    "probe_lifted_warming": {s.PROBE_OUT},
    "sensor_unplugged": {r.MISSING},
    "crc_12s": {r.CRC},
    "probe_drift": {s.PROBES_DISAGREE},
    "probe_drop": {s.PROBES_DISAGREE},
    "reading_frozen": {s.SENSOR_FROZEN, s.NOT_HEATING},
    "reading_frozen_warming": {s.SENSOR_FROZEN, s.NOT_HEATING},
    "relay_stuck": {s.RELAY_STUCK},
    "basin_emptied_float": {s.BASIN_EMPTY},
    "basin_emptied": {s.PROBE_OUT, s.NOT_HEATING},
    "overhot_fill": {s.OVERHEAT},
}
CASE = {case.name: case for case in CASES}


@pytest.fixture(scope="module")
def starts():
    """Settled starting states, shared by the tests of this module (each run gets a copy)."""
    return {}


# -- a healthy session -------------------------------------------------------------------------

@pytest.mark.parametrize("feet", ["when ready", "while warming"])
@pytest.mark.parametrize("params", VARIANTS, ids=variant_id)
def test_a_healthy_session_with_feet_going_in_never_faults(params, feet):
    """Warm from 30 C, feet in (a minute after the reading says ready, or impatiently while
    warming), a 15-minute soak, 5 minutes of massage steps, feet out, the session ends and the
    water is left to cool."""
    loop = Loop(params, seed=7)
    feet_s = 120.0 if feet == "while warming" else None
    soak_end_s = steps_end_s = None
    heater_on_s = peak_c = 0.0
    while steps_end_s is None or loop.now_s < steps_end_s + 300.0:
        before_s = loop.now_s
        reading, verdict = loop.tick()
        assert verdict.faults == (), (loop.now_s, verdict.faults)
        heater_on_s += (loop.now_s - before_s) if loop.heater else 0.0
        peak_c = max(peak_c, loop.bath.water_c)
        if feet_s is None and reading.ok and abs(reading.water_c - TARGET_C) <= 0.5:
            feet_s = loop.now_s + 60.0
        if feet_s is not None and loop.now_s >= feet_s and soak_end_s is None:
            loop.bath.feet_in()
            soak_end_s = loop.now_s + 900.0
        if soak_end_s is not None and loop.now_s >= soak_end_s and steps_end_s is None:
            loop.heating_phase = False
            steps_end_s = loop.now_s + 300.0
        if steps_end_s is not None and loop.now_s >= steps_end_s and loop.bath.has_feet:
            loop.bath.feet_out()
            loop.supervisor.end_session(now_s=loop.now_s)
        assert loop.now_s < 4 * 3600, "the session never got going"
    assert heater_on_s > 300.0 and peak_c <= 40.0


def test_the_heater_is_off_outside_the_heating_phases():
    loop = Loop(water_c=30.0)
    loop.heating_phase = False
    for _ in range(100):
        _, verdict = loop.tick()
        assert not loop.heater and s.NOT_HEATING_PHASE in verdict.reasons


# -- each injected fault on the reference bath (500 W, 5 L, still, holding 38 C) ------------------

@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_each_injected_fault_is_caught(case, starts):
    for offset_s in case.onsets_s[::2]:  # spread over a hold cycle (or the end of the warming)
        run = run_case(case, offset_s, cache=starts)
        if case.expect_fault:
            assert run.fault_code in EXPECTED[case.name], run
            assert run.heater_off_s is not None and run.heater_off_s <= run.fault_s
            assert any(word in run.fault_message for word in ("Check", "check", "switch")), run
        else:
            assert run.fault_code is None, run
        if run.off_after_bad_reads is not None:
            assert run.off_after_bad_reads == 0, run  # off at the very reading that was bad
        if case.name.startswith("probe_lifted") or case.check_probe or case.safety_relay:
            assert run.peak_c <= 40.5, run
        if case.name == "relay_stuck":
            assert run.water_at_fault_c < 42.0, run


@pytest.mark.parametrize("name", ["crc_once", "power_on_85"])
def test_a_single_glitch_turns_the_heater_off_for_that_reading_only(name, starts):
    run = run_case(CASE[name], 0.0, cache=starts)
    assert run.off_after_bad_reads == 0 and run.fault_code is None
    assert run.heater_off_s < 2.0  # the next read (0.8-1.8 s)


@pytest.mark.parametrize("name", ["unplugged_8s", "crc_5s", "power_on_85"])
def test_a_glitch_while_warming_pauses_the_heat_and_it_is_back_at_the_first_good_reading(name, starts):
    case = CASE[name]
    runs = [run_case(case, offset_s, cache=starts) for offset_s in case.onsets_s]
    for run in runs:
        assert run.fault_code is None and run.off_after_bad_reads == 0, run
        assert run.heat_back_reads in (0, None), run  # None: the heater was not on at the onset
    assert sum(run.heat_back_reads == 0 for run in runs) >= 2, runs


# -- the dangerous faults on the other bath variants --------------------------------------------

@pytest.mark.parametrize("name", ["probe_lifted", "probe_lifted_warming", "reading_frozen",
                                  "reading_frozen_warming", "relay_stuck", "basin_emptied"])
@pytest.mark.parametrize("params", [VARIANTS[1], VARIANTS[2], VARIANTS[7]], ids=variant_id)
def test_the_dangerous_faults_on_other_baths(params, name, starts):
    case = CASE[name]
    run = run_case(case, case.onsets_s[-1], params=params, cache=starts)
    assert run.fault_code in EXPECTED[name], run
    if name != "relay_stuck":
        assert run.peak_c <= 40.0, run  # the supervisor stopped the heating before any harm
    else:
        assert run.water_at_fault_c < 42.0, run


def test_an_overheated_bath_clears_only_once_cooled_and_then_needs_a_new_session():
    loop = Loop(water_c=43.0)
    _, verdict = loop.tick()
    assert [f.code for f in verdict.new_faults] == [s.OVERHEAT] and not loop.heater
    with pytest.raises(SafetyError, match="let it cool"):
        loop.supervisor.acknowledge(now_s=loop.now_s)
    reading = None
    while reading is None or reading.water_c >= 39.9:  # unheated it cools, faster when this hot
        reading, verdict = loop.tick()
        assert not loop.heater
    assert [f.code for f in loop.supervisor.acknowledge(now_s=loop.now_s)] == [s.OVERHEAT]
    _, verdict = loop.tick()
    assert not loop.heater and verdict.reasons[0] == s.LOCKED
    loop.supervisor.start_session(now_s=loop.now_s, max_heater_on_s=3600.0)
    loop.run_until(loop.now_s + 1200.0)  # it cools to the target, then holds it
    assert loop.law.relay.closures > 0 and not loop.supervisor.faults


def test_a_stuck_relay_cannot_be_cleared_while_the_water_keeps_warming():
    loop = Loop(seed=0)
    loop.run_until(1500.0)
    loop.bath.stick_relay()
    while not loop.supervisor.faults:
        loop.tick()
    for _ in range(60):
        loop.tick()
    with pytest.raises(SafetyError, match="switch the heater off at the mains"):
        loop.supervisor.acknowledge(now_s=loop.now_s)
    loop.bath.release_relay()  # staff switched it off at the mains and changed the relay
    reading = None
    while reading is None or reading.water_c >= 39.5:
        reading, _ = loop.tick()
    assert s.RELAY_STUCK in {f.code for f in loop.supervisor.acknowledge(now_s=loop.now_s)}


# -- through the real w1thermsensor code ------------------------------------------------------

def test_sensor_faults_read_through_real_w1_slave_files(w1_bus):
    """The simulated sensor's output written as the kernel would show it, read by the real
    Thermometer adapter (w1thermsensor), judged by the supervisor."""

    def read_files(bath, now_s):
        w1_bus.show(bath.sensor_output())
        return thermometer.read()

    loop = Loop(water_c=37.0, read=read_files)
    w1_bus.show(SensorOutput(raw_c=37.0))
    thermometer = Thermometer(devices_dir=w1_bus.devices_dir, clock=lambda: loop.now_s)
    loop.run_until(300.0)
    assert not loop.supervisor.faults

    loop.bath.glitch_85()
    reading, verdict = loop.tick()
    assert reading.fault == POWER_ON and s.BAD_READING in verdict.reasons and not loop.heater
    assert loop.tick()[0].ok
    loop.bath.crc_burst(5.0)
    for _ in range(3):
        reading, verdict = loop.tick()
        assert reading.fault == r.CRC and not loop.heater
    loop.run_until(loop.now_s + 120.0)
    assert not loop.supervisor.faults  # glitches, not faults

    loop.bath.unplug_sensor()
    unplugged_s, codes = loop.now_s, []
    while not loop.supervisor.faults:
        reading, verdict = loop.tick()
        codes.append(reading.fault)
        assert not loop.heater
    assert set(codes) == {r.MISSING} and verdict.faults[0].code == r.MISSING
    assert 10.0 <= loop.now_s - unplugged_s < 10.0 + 2.0  # by time, however many reads
    loop.bath.plug_sensor()
    loop.tick()
    loop.supervisor.acknowledge(now_s=loop.now_s)
    loop.supervisor.start_session(now_s=loop.now_s, max_heater_on_s=3600.0)
    loop.run_until(loop.now_s + 600.0)
    assert not loop.supervisor.faults and loop.law.relay.closures > 0


# -- the benchmark's own bookkeeping ------------------------------------------------------------

def test_the_benchmark_reports_its_figures_and_targets(capsys):
    cases = tuple(CASE[name] for name in ("probe_lifted", "crc_once"))
    rows = run_all(cases=cases)
    met = targets_met(rows)
    assert all(met.values()), met
    print_table(rows)
    out = capsys.readouterr().out
    for name in ("probe_lifted", "crc_once", "Targets:", "Put the probe back"):
        assert name in out
