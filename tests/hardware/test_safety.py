"""The safety supervisor's rules (DESIGN.md section 3), one by one, with hand-made readings and
times: every interlock, every fault, the latch and its acknowledgement, and the start-up lock."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware import reading as r
from hardware import safety as s
from hardware.errors import HardwareError
from hardware.reading import Reading, SensorOutput, classify, reading_from
from hardware.safety import Limits, SafetyError, Supervisor

TARGET_C = 38.0
QUANTUM_C = 1 / 16  # the DS18B20's resolution


def ok(t, water_c):
    return Reading(t, water_c, None, water_c)


def session(limits=None, *, now_s=0.0, budget_s=7200.0):
    sup = Supervisor(limits)
    sup.start_session(now_s=now_s, max_heater_on_s=budget_s)
    return sup


def tick(sup, t, reading, *, want=True, phase=True, target=TARGET_C, driven=False, water=None):
    return sup.tick(now_s=t, reading=reading, heat_wanted=want, heating_phase=phase, target_c=target,
                    heater_driven=driven, water_present=water)


def feed(sup, start_s, end_s, water_c, *, driven=False, step_s=1.0, **kw):
    """One reading a step from start_s (inclusive) to end_s (exclusive); water_c(t) gives its value
    and driven (a bool or a function of t) what the heater was driven as. Returns (t, verdict)s."""
    verdicts, t = [], start_s
    while t < end_s:
        on = driven(t) if callable(driven) else driven
        verdicts.append((t, tick(sup, t, ok(t, water_c(t)), driven=on, **kw)))
        t += step_s
    return verdicts


def first_fault(verdicts):
    return next(((t, v.new_faults[0]) for t, v in verdicts if v.new_faults), None)


def flicker(base_c):
    """A live probe's least significant bit: never frozen, never a 0.2 C rise."""
    return lambda t: base_c + (QUANTUM_C if int(t) % 2 else 0.0)


# -- interlocks --------------------------------------------------------------------------------

def test_heat_when_every_interlock_holds():
    verdict = tick(session(), 1.0, ok(1.0, 30.0))
    assert verdict.heater and verdict.reasons == () and verdict.forced_off == ()
    assert verdict.pump_allowed and verdict.vibration_allowed and not verdict.locked


def test_a_new_supervisor_is_locked_until_a_person_starts_a_session():
    """After a crash or a power loss heating never resumes by itself."""
    sup = Supervisor()
    verdict = tick(sup, 1.0, ok(1.0, 30.0))
    assert not verdict.heater and s.LOCKED in verdict.reasons and verdict.locked
    assert verdict.pump_allowed  # cleaning may run the pump between sessions
    sup.start_session(now_s=2.0, max_heater_on_s=600.0)
    assert tick(sup, 2.0, ok(2.0, 30.0)).heater
    sup.end_session(now_s=3.0)
    assert tick(sup, 3.0, ok(3.0, 30.0)).reasons == (s.LOCKED,)


@pytest.mark.parametrize(("changes", "reason"), [
    ({"want": False}, s.NOT_WANTED),
    ({"phase": False}, s.NOT_HEATING_PHASE),
    ({"reading": ok(1.0, 38.0)}, s.AT_TARGET),
    ({"reading": ok(1.0, 38.5)}, s.AT_TARGET),
    ({"reading": None}, s.NO_READING),
    ({"reading": Reading(1.0, None, r.CRC)}, s.BAD_READING),
    ({"water": False}, s.NO_WATER),
    ({"target": None}, s.AT_TARGET),
    ({"target": math.nan}, s.AT_TARGET),
])
def test_each_interlock_alone_keeps_the_heater_off(changes, reason):
    args = {"reading": ok(1.0, 30.0), **changes}
    verdict = tick(session(), 1.0, args.pop("reading"), **args)
    assert not verdict.heater
    assert verdict.reasons == (reason,)
    assert (s.HEATER in verdict.forced_off) == (reason != s.NOT_WANTED)


def test_a_reading_just_under_five_seconds_old_still_counts():
    assert tick(session(), 4.99, ok(0.0, 30.0)).heater


def test_an_empty_basin_stops_the_pump_and_the_vibration_too():
    verdict = tick(session(), 1.0, ok(1.0, 30.0), water=False)
    assert verdict.forced_off == (s.HEATER, s.PUMP, s.VIBRATION)
    assert tick(session(), 1.0, ok(1.0, 30.0), water=True).heater  # a float switch saying water


def test_no_target_above_the_ceiling_ever():
    sup = session()
    assert tick(sup, 1.0, ok(1.0, 39.9), target=45.0).heater
    verdict = tick(sup, 2.0, ok(2.0, 40.0), target=45.0)
    assert not verdict.heater and set(verdict.reasons) == {s.AT_CEILING, s.AT_TARGET}


def test_a_lowered_ceiling_caps_the_target():
    sup = session(Limits(ceiling_c=37.0))
    assert tick(sup, 1.0, ok(1.0, 36.9)).heater
    assert s.AT_CEILING in tick(sup, 2.0, ok(2.0, 37.0)).reasons


@pytest.mark.parametrize("changes", [{"ceiling_c": 40.5}, {"heater_w": 0}, {"litres": -5.0},
                                     {"ceiling_c": math.inf}, {"heater_w": "500"}])
def test_limits_refuse_a_raised_ceiling_and_nonsense(changes):
    with pytest.raises(SafetyError) as excinfo:
        Limits(**changes)
    assert isinstance(excinfo.value, HardwareError)
    assert "ceiling" in str(excinfo.value) or "must be a positive number" in str(excinfo.value)


def test_limits_scale_with_how_fast_the_bath_warms():
    assert Limits().heating_window_s == 90.0 and Limits().stuck_rate_c_per_min == 0.5
    slow = Limits(heater_w=300.0, litres=8.0)
    assert slow.heating_window_s == pytest.approx(240.0)
    assert slow.stuck_rate_c_per_min == pytest.approx(0.1875)
    assert Limits(litres=2.5).fall_c == 8.0 and Limits(litres=8.0).fall_c == 4.0
    assert Limits().heater_budget_s(600.0) == pytest.approx(600.0 + 5 * 4186 * 20 / 500 * 1.5)


# -- overheat ----------------------------------------------------------------------------------

def test_a_reading_at_ceiling_plus_one_latches_a_fault_and_ends_the_session():
    sup = session()
    assert not tick(sup, 1.0, ok(1.0, 40.9375)).new_faults
    verdict = tick(sup, 2.0, ok(2.0, 41.0), target=38.0)
    (fault,) = verdict.new_faults
    assert fault.code == s.OVERHEAT and fault.since_s == 2.0
    assert "41.0 C" in fault.message and "Take your feet out" in fault.message
    assert not verdict.heater and verdict.locked and {s.FAULT, s.LOCKED} <= set(verdict.reasons)
    assert not verdict.pump_allowed and not verdict.vibration_allowed
    assert tick(sup, 3.0, ok(3.0, 30.0)).new_faults == ()  # latched once, not again
    assert tick(sup, 3.0, ok(3.0, 30.0)).faults == (fault,)


def test_overheat_follows_a_lowered_ceiling():
    sup = session(Limits(ceiling_c=37.0))
    assert tick(sup, 1.0, ok(1.0, 38.0), target=36.0).new_faults[0].code == s.OVERHEAT


def test_an_overheat_is_latched_even_without_a_session():
    """An over-hot fill before anyone starts a session is still reported."""
    verdict = tick(Supervisor(), 1.0, ok(1.0, 43.0))
    assert [f.code for f in verdict.new_faults] == [s.OVERHEAT]


def test_acknowledging_an_overheat_waits_until_the_water_is_below_the_ceiling():
    sup = session()
    tick(sup, 1.0, ok(1.0, 41.5))
    with pytest.raises(SafetyError, match="fault is latched: overheat"):
        sup.start_session(now_s=2.0, max_heater_on_s=600.0)
    tick(sup, 2.0, ok(2.0, 40.5))
    with pytest.raises(SafetyError, match=r"still 40\.5 C.*let it cool"):
        sup.acknowledge(now_s=2.5)
    tick(sup, 3.0, ok(3.0, 39.5))
    with pytest.raises(SafetyError, match="no valid reading"):
        sup.acknowledge(now_s=9.0)  # that reading is 6 s old by now
    tick(sup, 10.0, ok(10.0, 39.5))
    (cleared,) = sup.acknowledge(now_s=10.0)
    assert cleared.code == s.OVERHEAT and sup.faults == ()
    verdict = tick(sup, 11.0, ok(11.0, 35.0))
    assert not verdict.heater and verdict.reasons == (s.LOCKED,)  # still needs a person's start
    sup.start_session(now_s=12.0, max_heater_on_s=600.0)
    assert tick(sup, 12.0, ok(12.0, 35.0)).heater


def test_acknowledging_nothing_clears_nothing():
    assert Supervisor().acknowledge(now_s=0.0) == ()


# -- sensor faults -----------------------------------------------------------------------------

BAD = {
    r.MISSING: lambda t: reading_from(SensorOutput(present=False), t),
    r.CRC: lambda t: reading_from(SensorOutput(crc_ok=False), t),
    r.POWER_ON: lambda t: classify(85.0, t),
    r.SENTINEL: lambda t: classify(127.94, t),
    r.ZERO: lambda t: classify(0.0, t),
    r.MINUS: lambda t: classify(-0.0625, t),
    r.RANGE: lambda t: classify(60.5, t),
    r.UNREADABLE: lambda t: Reading(t, None, r.UNREADABLE),
}


@pytest.mark.parametrize("code", list(BAD))
def test_one_bad_reading_turns_the_heater_off_at_once_but_is_no_fault(code):
    sup = session()
    assert tick(sup, 1.0, ok(1.0, 30.0), driven=False).heater
    glitch = tick(sup, 2.0, BAD[code](2.0), driven=True)
    assert not glitch.heater and glitch.reasons == (s.BAD_READING,) and not glitch.faults
    assert tick(sup, 3.0, ok(3.0, 30.0), driven=False).heater  # never the last value: the new one


def bad_stretch(sup, start_s, end_s, code, *, step_s):
    """Bad readings of one code every step_s from start_s (inclusive) to end_s (exclusive)."""
    verdicts, t = [], start_s
    while t < end_s:
        verdicts.append((t, tick(sup, t, BAD[code](t))))
        t += step_s
    return verdicts


@pytest.mark.parametrize("code", list(BAD))
@pytest.mark.parametrize("step_s", [0.01, 0.9, 1.8])  # a fake bus, a real read, a slow real read
def test_no_valid_reading_for_ten_seconds_is_a_fault_however_often_the_probe_is_read(code, step_s):
    sup = session()
    tick(sup, 0.0, ok(0.0, 30.0))
    verdicts = bad_stretch(sup, step_s, 10.0 + 2 * step_s, code, step_s=step_s)
    assert all(not v.heater for _, v in verdicts)
    t, fault = first_fault(verdicts)
    assert fault.code == code and 10.0 <= t < 10.0 + step_s + 1e-9
    assert fault.message.startswith("The heater is off: ") and ". Check " in fault.message


@pytest.mark.parametrize("step_s", [0.01, 0.9])
def test_a_dropout_shorter_than_ten_seconds_is_no_fault(step_s):
    sup = session()
    tick(sup, 0.0, ok(0.0, 30.0))
    bad_stretch(sup, step_s, 9.8, r.MISSING, step_s=step_s)
    verdict = tick(sup, 9.8, ok(9.8, 30.0))
    assert verdict.heater and not sup.faults


def test_thirty_seconds_of_bad_readings_within_two_minutes_is_a_fault():
    """Every other read fails for a while (a loose plug): never 10 s without a valid reading,
    but half of the time without one."""
    sup = session()
    verdicts, t = [], 0.0
    while t < 120.0:
        reading = BAD[r.CRC](t) if int(t / 0.9) % 2 else ok(t, 30.0)
        verdicts.append((t, tick(sup, t, reading)))
        t += 0.9
    t, fault = first_fault(verdicts)
    assert fault.code == r.CRC and 59.0 <= t <= 63.0


def test_bad_readings_spread_wider_than_two_minutes_are_no_fault():
    sup = session()
    live = flicker(30.0)
    for start_s in range(0, 600, 150):  # 9 s out of every 150 s
        tick(sup, float(start_s), ok(start_s, live(start_s)))
        bad_stretch(sup, start_s + 0.5, start_s + 9.5, r.CRC, step_s=0.5)
        feed(sup, start_s + 9.5, start_s + 150.0, live)
    assert not sup.faults


def test_the_same_reading_again_is_not_a_new_bad_read():
    """The controller may tick faster than the probe reads: a reading counts once."""
    sup = session()
    glitch = BAD[r.CRC](1.0)
    for t in (1.0, 1.5, 2.0, 2.5):
        verdict = tick(sup, t, glitch)
    assert not verdict.faults and not verdict.heater


def test_no_valid_reading_for_ten_seconds_is_a_stale_fault():
    sup = session()
    reading = ok(0.0, 30.0)
    assert tick(sup, 4.9, reading).heater and not sup.faults
    verdict = tick(sup, 5.0, reading)
    assert not verdict.heater and s.OLD_READING in verdict.reasons and not verdict.faults
    assert not tick(sup, 9.9, reading).faults
    verdict = tick(sup, 10.0, reading)
    assert [f.code for f in verdict.new_faults] == [s.SENSOR_STALE]
    assert "no valid temperature for 10 seconds" in verdict.new_faults[0].message


def test_slow_bad_readings_are_reported_by_their_own_code():
    sup = session()
    tick(sup, 0.0, ok(0.0, 30.0))
    tick(sup, 4.0, BAD[r.POWER_ON](4.0))
    tick(sup, 8.0, BAD[r.POWER_ON](8.0))
    assert [f.code for f in tick(sup, 10.0, None).new_faults] == [r.POWER_ON]


def test_no_reading_at_all_after_start_up_is_a_fault_after_ten_seconds():
    sup = Supervisor()
    assert not tick(sup, 100.0, None).faults
    assert not tick(sup, 109.9, None).faults
    assert [f.code for f in tick(sup, 110.0, None).faults] == [s.SENSOR_STALE]


def test_a_sensor_fault_clears_only_once_the_thermometer_reads_again():
    sup = session()
    bad_stretch(sup, 1.0, 12.0, r.MISSING, step_s=1.0)
    assert [f.code for f in sup.faults] == [r.MISSING]
    with pytest.raises(SafetyError, match="check the probe's plug"):
        sup.acknowledge(now_s=11.5)
    tick(sup, 12.0, ok(12.0, 30.0))
    assert [f.code for f in sup.acknowledge(now_s=12.0)] == [r.MISSING]


# -- heating check -----------------------------------------------------------------------------

def test_heater_on_without_a_rise_is_a_fault_after_the_probe_lag_and_the_window():
    sup = session()
    verdicts = feed(sup, 0.0, 400.0, flicker(30.0), driven=True)
    t, fault = first_fault(verdicts)
    assert fault.code == s.NOT_HEATING and t == s.PROBE_LAG_S + 90.0
    assert "probe is in the water" in fault.message


def test_a_rise_of_point_two_proves_the_heater_and_restarts_the_clock():
    sup = session()
    verdicts = feed(sup, 0.0, 400.0, lambda t: 30.0 if t < 159 else 30.25, driven=True)
    assert first_fault(verdicts)[0] == 159.0 + 90.0
    rising = feed(session(), 0.0, 1200.0, lambda t: 30.0 + 0.25 * (t // 85), driven=True)
    assert first_fault(rising) is None


def test_the_clock_restarts_at_every_new_low():
    """Still water: the probe keeps falling long after the heater comes on (feet just went in)."""
    sup = session()

    def probe(t):
        return 37.0 - 0.01 * t if t < 200 else 35.0 + 0.004 * (t - 200)
    assert first_fault(feed(sup, 0.0, 400.0, probe, driven=True)) is None


def test_a_hold_at_up_to_four_fifths_duty_never_builds_up():
    sup = session()
    verdicts = feed(sup, 0.0, 3600.0, flicker(37.9), driven=lambda t: t % 120 < 95)  # 79 % duty
    assert first_fault(verdicts) is None


def test_pulsing_at_high_duty_without_a_rise_still_counts():
    sup = session()
    verdicts = feed(sup, 0.0, 1200.0, flicker(37.0), driven=lambda t: t % 60 < 55)
    assert first_fault(verdicts)[1].code == s.NOT_HEATING


def test_the_heating_window_scales_with_the_bath():
    sup = session(Limits(heater_w=300.0, litres=8.0))
    t, fault = first_fault(feed(sup, 0.0, 600.0, flicker(30.0), driven=True))
    assert fault.code == s.NOT_HEATING and t == s.PROBE_LAG_S + 240.0


# -- stuck relay -------------------------------------------------------------------------------

def test_water_rising_with_the_heater_off_for_two_minutes_is_a_stuck_relay():
    sup = session()
    t, fault = first_fault(feed(sup, 0.0, 300.0, lambda t: 38.0 + t / 60.0, driven=False))
    assert fault.code == s.RELAY_STUCK and 120.0 <= t <= 122.0
    assert "switch the heater off at the mains" in fault.message


def test_the_rise_after_switch_off_is_no_stuck_relay():
    """Still water: 40 s of the ramp still on its way to the probe, then an exponential tail (the
    probe's lag and the element's own heat); 1.5 C/min is 500 W flat out in 5 L."""
    sup = session()

    def tail(t):
        ramp = min(t, 40.0) * 1.5 / 60
        return 38.0 + ramp + (1.5 / 60 * 30.0 * (1 - math.exp(-(t - 40.0) / 30.0)) if t > 40 else 0)
    assert first_fault(feed(sup, 0.0, 600.0, tail, driven=False)) is None


@pytest.mark.parametrize("lag_s", [10.0, 30.0, 60.0])
def test_a_probe_settling_into_a_warm_fill_is_no_stuck_relay(lag_s):
    """Room air, then the basin is filled at 38 C: a steep rise that tails off."""
    sup = session()

    def probe(t):
        return 22.0 if t < 100 else 38.0 - 16.0 * math.exp(-(t - 100) / lag_s)
    assert first_fault(feed(sup, 0.0, 600.0, probe, driven=False, phase=False)) is None


def test_a_slow_rise_is_no_stuck_relay_but_the_threshold_scales_with_the_bath():
    assert first_fault(feed(session(), 0.0, 400.0, lambda t: 38.0 + 0.4 * t / 60, driven=False)) is None
    slow = session(Limits(heater_w=300.0, litres=8.0))  # 0.19 C/min there
    assert first_fault(feed(slow, 0.0, 400.0, lambda t: 38.0 + 0.3 * t / 60, driven=False))[1].code \
        == s.RELAY_STUCK


def test_a_stuck_relay_is_reported_with_no_session_too():
    verdicts = feed(Supervisor(), 0.0, 300.0, lambda t: 30.0 + t / 60.0, driven=False, phase=False)
    assert first_fault(verdicts)[1].code == s.RELAY_STUCK


def test_the_heater_on_within_the_window_is_no_stuck_relay():
    sup = session()
    verdicts = feed(sup, 0.0, 300.0, lambda t: 30.0 + t / 60.0, driven=lambda t: t % 100 < 5)
    assert first_fault(verdicts) is None


def test_a_stuck_relay_clears_only_once_the_water_stops_warming():
    sup = session()
    feed(sup, 0.0, 200.0, lambda t: 38.0 + t / 60.0, driven=False)
    with pytest.raises(SafetyError, match="still warming"):
        sup.acknowledge(now_s=199.0)
    feed(sup, 200.0, 330.0, lambda t: 41.0 - 0.25 * (t - 200) / 60, driven=False)
    tick(sup, 330.0, ok(330.0, 39.9))
    assert [f.code for f in sup.acknowledge(now_s=330.0)] == [s.RELAY_STUCK, s.OVERHEAT]


# -- plausibility: a fall no water can make, a frozen reading ---------------------------------

def test_a_fall_no_water_can_make_is_the_probe_out_of_the_water():
    sup = session()
    feed(sup, 0.0, 60.0, lambda t: 38.0)
    verdicts = feed(sup, 60.0, 120.0, lambda t: 38.0 - 16.0 * (1 - math.exp(-(t - 60) / 90.0)))
    t, fault = first_fault(verdicts)
    assert fault.code == s.PROBE_OUT and 80.0 < t < 90.0
    assert "Put the probe back in the water" in fault.message


def test_feet_going_in_are_no_fall():
    sup = session()
    feed(sup, 0.0, 60.0, lambda t: 38.0)
    feet = feed(sup, 60.0, 400.0, lambda t: 38.0 - 2.5 * (1 - math.exp(-(t - 60) / 30.0)))
    assert first_fault(feet) is None


def test_a_fall_before_the_heating_phase_does_not_count():
    """The basin drained and refilled cooler between sessions, or during the fill prompt."""
    sup = session()
    feed(sup, 0.0, 60.0, lambda t: 38.0, phase=False)
    assert first_fault(feed(sup, 60.0, 180.0, lambda t: 31.0 + 0.001 * t)) is None


def test_a_smaller_basin_allows_a_bigger_fall():
    sup = session(Limits(litres=2.5))
    feed(sup, 0.0, 60.0, lambda t: 38.0)
    assert first_fault(feed(sup, 60.0, 180.0, lambda t: 33.0 + 0.001 * t)) is None


def test_the_same_value_for_three_minutes_of_heating_is_a_frozen_reading():
    sup = session()
    verdicts = feed(sup, 0.0, 300.0, lambda t: 37.5, driven=lambda t: t % 120 < 40)
    t, fault = first_fault(verdicts)
    assert fault.code == s.SENSOR_FROZEN and 162.0 <= t <= 180.0


def test_one_changed_value_means_the_probe_is_alive():
    sup = session()
    verdicts = feed(sup, 0.0, 300.0, lambda t: 37.5 + (QUANTUM_C if t == 150 else 0.0),
                    driven=lambda t: t % 120 < 40)
    assert first_fault(verdicts) is None


def test_the_same_value_outside_the_heating_phase_is_no_fault():
    """Water at room temperature, waiting for the customer, may read the same for ever."""
    sup = session()
    assert first_fault(feed(sup, 0.0, 600.0, lambda t: 22.0, phase=False)) is None
    # The heating phase begins: only its own readings count.
    assert first_fault(feed(sup, 600.0, 700.0, lambda t: 22.0, want=False)) is None


# -- float switch, heater-on budget, time ------------------------------------------------------

def test_an_empty_basin_in_a_heating_phase_is_a_fault_after_three_seconds():
    sup = session()
    tick(sup, 0.0, ok(0.0, 38.0), water=False)
    assert not tick(sup, 2.0, ok(2.0, 38.0), water=False).faults
    tick(sup, 2.5, ok(2.5, 38.0), water=True)  # a wave from the feet
    tick(sup, 3.0, ok(3.0, 38.0), water=False)
    assert not tick(sup, 5.5, ok(5.5, 38.0), water=False).faults
    (fault,) = tick(sup, 6.0, ok(6.0, 38.0), water=False).new_faults
    assert fault.code == s.BASIN_EMPTY and "Fill the basin" in fault.message
    with pytest.raises(SafetyError, match="basin is empty"):
        sup.acknowledge(now_s=7.0)
    tick(sup, 8.0, ok(8.0, 38.0), water=True)
    assert sup.acknowledge(now_s=8.0)[0].code == s.BASIN_EMPTY


def test_an_empty_basin_outside_the_heating_phase_only_blocks_the_outputs():
    sup = session()
    verdicts = [tick(sup, t, ok(t, 22.0), water=False, phase=False) for t in range(10)]
    assert not any(v.faults for v in verdicts)
    assert verdicts[-1].forced_off == (s.HEATER, s.PUMP, s.VIBRATION)


def test_the_heater_on_budget_of_a_session():
    sup = session(budget_s=100.0)
    verdicts = feed(sup, 0.0, 200.0, lambda t: 30.0 + t / 100.0, driven=True)
    t, fault = first_fault(verdicts)
    assert fault.code == s.HEATER_TIME and t == 100.0  # the first tick counts no time
    assert "(2 min)" in fault.message and "Check" in fault.message
    assert sup.heater_on_s == pytest.approx(100.0)


def test_heater_time_outside_a_session_does_not_count():
    sup = Supervisor()
    feed(sup, 0.0, 50.0, lambda t: 30.0, driven=True)
    sup.start_session(now_s=50.0, max_heater_on_s=60.0)
    assert sup.heater_on_s == 0.0


def test_starting_a_session_needs_a_budget():
    for budget in (0, -1.0, math.nan, math.inf, None):
        with pytest.raises(SafetyError, match="max_heater_on_s"):
            Supervisor().start_session(now_s=0.0, max_heater_on_s=budget)


@pytest.mark.parametrize("now_s", [math.nan, math.inf, None, "1"])
def test_time_must_be_a_finite_number(now_s):
    with pytest.raises(SafetyError, match="now_s"):
        tick(session(), now_s, None)


def test_a_clock_that_steps_back_counts_no_time():
    sup = session(budget_s=10.0)
    tick(sup, 100.0, ok(100.0, 30.0), driven=True)
    tick(sup, 50.0, ok(100.5, 30.0), driven=True)
    assert sup.heater_on_s == 0.0


def test_every_fault_message_says_what_happened_and_what_to_do():
    for code, message in s.MESSAGES.items():
        assert message.startswith(("The heater is off", "The heater and the pump are off", "The water")), code
        assert any(word in message for word in ("Check", "Fill", "Put", "switch")), code
        assert message.endswith("."), code


# -- properties --------------------------------------------------------------------------------

STEPS = st.lists(st.tuples(
    st.floats(0.0, 3.0),  # seconds since the previous tick
    st.one_of(st.none(), st.floats(-1.0, 70.0), st.sampled_from(list(BAD))),  # the reading
    st.floats(0.0, 6.0),  # the reading's age
    st.booleans(), st.booleans(), st.booleans(),  # wanted, heating phase, driven
    st.sampled_from([None, True, False]),  # float switch
    st.floats(30.0, 45.0),  # target
), max_size=60)


@settings(max_examples=200, deadline=None)
@given(STEPS)
def test_the_heater_is_only_ever_on_when_every_interlock_holds(steps):
    sup = session(budget_s=1e6)
    now, newest, latched = 0.0, None, False
    for dt, raw, age, want, phase, driven, water, target in steps:
        now += dt
        if raw is None:
            reading = None
        elif isinstance(raw, str):
            reading = BAD[raw](now - age)
        else:
            reading = classify(round(raw * 16) / 16, now - age)
        if reading is not None and (newest is None or reading.taken_s > newest.taken_s):
            newest = reading  # an older reading than one already seen is ignored
        verdict = tick(sup, now, reading, want=want, phase=phase, target=target, driven=driven,
                       water=water)
        latched = latched or bool(verdict.faults)
        if verdict.heater:
            assert not latched and want and phase and water is not False
            assert newest.ok and now - newest.taken_s < s.READING_MAX_AGE_S
            assert newest.water_c < min(target, 40.0)
        assert verdict.faults == sup.faults
        if verdict.faults:
            assert not verdict.pump_allowed and not verdict.vibration_allowed


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(30.0, 39.9), min_size=2, max_size=40), st.data())
def test_after_a_fault_the_heater_never_comes_back_by_itself(values, data):
    at = data.draw(st.integers(0, len(values) - 1))
    sup = session()
    for i, value in enumerate(values):
        t = float(i)
        verdict = tick(sup, t, ok(t, 41.5 if i == at else value))
        if i > at:
            sup.acknowledge(now_s=t)  # the water is below the ceiling again: a person clears it
        if i >= at:
            assert not verdict.heater and verdict.locked
    assert not tick(sup, len(values), ok(len(values), 30.0)).heater


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(
    st.floats(0.0, 3.0),  # seconds since the previous tick
    st.one_of(st.none(), st.floats(30.0, 45.0), st.sampled_from(list(BAD))),  # the main reading
    st.one_of(st.none(), st.floats(30.0, 45.0), st.sampled_from(list(BAD))),  # the check probe's
    st.one_of(st.none(), st.floats(30.0, 45.0)),  # the law's estimate
    st.booleans(), st.booleans(), st.booleans(),  # wanted, heating phase, driven
    st.floats(36.0, 40.0),  # target
), max_size=60))
def test_with_a_second_probe_and_a_safety_relay_the_heater_needs_both_and_the_estimate(steps):
    sup = Supervisor(check_probe=True, safety_relay=True)
    sup.start_session(now_s=0.0, max_heater_on_s=1e6)
    now, closed_before, newest = 0.0, False, [None, None]
    for dt, main_raw, check_raw, estimate, want, phase, driven, target in steps:
        now += dt
        readings = [None if raw is None else BAD[raw](now) if isinstance(raw, str)
                    else classify(round(raw * 16) / 16, now) for raw in (main_raw, check_raw)]
        # Only a newer taken_s is a new read (Supervisor.tick's contract); None: nothing new.
        newest = [new if new is not None and (old is None or new.taken_s > old.taken_s) else old
                  for new, old in zip(readings, newest, strict=True)]
        verdict = sup.tick(now_s=now, reading=readings[0], check=readings[1], heat_wanted=want,
                           heating_phase=phase, target_c=target, heater_driven=driven,
                           estimate_c=estimate)
        if verdict.heater:
            main, check = newest
            assert main.ok and check.ok and max(now - main.taken_s, now - check.taken_s) < 5.0
            assert max(main.water_c, check.water_c) < 40.0
            assert main.water_c < target + s.ABOVE_TARGET_C
            assert (main.water_c < target) if estimate is None else (estimate < target)
            assert verdict.safety_relay and closed_before, "the safety relay closes a tick first"
        if verdict.faults or not phase:
            assert not verdict.safety_relay
        closed_before = verdict.safety_relay


# -- a second probe ------------------------------------------------------------------------------

def two_probes(*, safety_relay=False):
    sup = Supervisor(check_probe=True, safety_relay=safety_relay)
    sup.start_session(now_s=0.0, max_heater_on_s=7200.0)
    return sup


def tick2(sup, t, main_c, check_c, **kw):
    main = ok(t, main_c) if isinstance(main_c, float) else main_c
    check = ok(t, check_c) if isinstance(check_c, float) else check_c
    return sup.tick(now_s=t, reading=main, check=check, heat_wanted=kw.get("want", True),
                    heating_phase=True, target_c=kw.get("target", TARGET_C),
                    heater_driven=kw.get("driven", False), estimate_c=kw.get("estimate"))


def test_two_probes_that_disagree_by_more_than_a_degree_for_thirty_seconds_are_a_fault():
    sup = two_probes()
    assert tick2(sup, 0.0, 36.0, 36.9).heater  # within a degree
    for t in range(1, 30):
        verdict = tick2(sup, float(t), 36.0, 37.1)
        assert verdict.heater and not verdict.faults, t  # apart, not yet for long
    tick2(sup, 30.0, 36.0, 36.5)  # agreeing again restarts the clock
    for t in range(31, 61):
        assert not tick2(sup, float(t), 36.0, 37.1).faults
    (fault,) = tick2(sup, 61.0, 36.0, 37.1).new_faults
    assert fault.code == s.PROBES_DISAGREE and not sup.tick(
        now_s=61.5, reading=ok(61.5, 36.0), check=ok(61.5, 37.1), heat_wanted=True, heating_phase=True,
        target_c=TARGET_C, heater_driven=False).heater
    with pytest.raises(SafetyError, match="still disagree"):
        sup.acknowledge(now_s=61.5)
    tick2(sup, 62.0, 36.0, 36.2)
    assert [f.code for f in sup.acknowledge(now_s=62.0)] == [s.PROBES_DISAGREE]


def test_the_higher_probe_is_the_one_the_ceiling_and_overheat_rules_use():
    sup = two_probes()
    verdict = tick2(sup, 0.0, 37.0, 40.0, target=40.0)
    assert not verdict.heater and s.AT_CEILING in verdict.reasons
    (fault,) = tick2(sup, 1.0, 37.0, 41.0, target=40.0).new_faults
    assert fault.code == s.OVERHEAT and "41.0 C" in fault.message


def test_without_a_valid_second_reading_the_heater_is_off_and_ten_seconds_of_it_are_a_fault():
    sup = two_probes()
    assert tick2(sup, 0.0, 36.0, 36.0).heater
    verdict = tick2(sup, 1.0, 36.0, BAD[r.MISSING](1.0))
    assert not verdict.heater and s.BAD_READING in verdict.reasons and not verdict.faults
    for t in range(2, 10):
        assert not tick2(sup, float(t), 36.0, BAD[r.MISSING](t)).faults
    (fault,) = tick2(sup, 10.0, 36.0, BAD[r.MISSING](10.0)).new_faults
    assert fault.code == s.CHECK_SENSOR and "second thermometer" in fault.message
    assert [p.fault_code for p in sup._probes] == [None, s.CHECK_SENSOR]


# -- a safety relay --------------------------------------------------------------------------------

def test_the_safety_relay_closes_a_reading_before_the_heater_may_and_opens_at_a_fault():
    sup = two_probes(safety_relay=True)
    first = tick2(sup, 0.0, 36.0, 36.0)
    assert first.safety_relay and not first.heater and first.reasons == (s.SAFETY_RELAY_OPEN,)
    assert tick2(sup, 1.0, 36.0, 36.0).heater
    glitch = tick2(sup, 2.0, BAD[r.CRC](2.0), 36.0, driven=True)
    assert glitch.safety_relay and not glitch.heater  # a glitch is no reason to open it
    assert tick2(sup, 3.0, 36.0, 36.0).heater  # so heat is back at the next good reading
    fault = tick2(sup, 4.0, 36.0, 41.5, driven=True)
    assert fault.new_faults and not fault.safety_relay and not fault.heater  # at once


def test_the_safety_relay_opens_for_the_temperature_only_after_the_heater_relay_has():
    sup = two_probes(safety_relay=True)
    tick2(sup, 0.0, 36.0, 36.0, estimate=37.0)
    assert tick2(sup, 1.0, 36.0, 36.0, estimate=37.0, driven=False).heater
    at_target = tick2(sup, 2.0, 36.5, 36.5, estimate=38.0, driven=True)
    assert not at_target.heater and at_target.safety_relay  # the heater relay breaks the load
    assert not tick2(sup, 3.0, 36.6, 36.6, estimate=38.1, driven=False).safety_relay
    assert not tick2(sup, 4.0, 36.6, 36.6, estimate=37.9, driven=False).safety_relay  # not clear yet
    assert tick2(sup, 5.0, 36.6, 36.6, estimate=37.8, driven=False).safety_relay
    assert not tick2(sup, 6.0, 36.6, 36.6, want=True, estimate=37.9).reasons


def test_the_safety_relay_is_open_outside_a_session_and_outside_the_heating_phases():
    sup = Supervisor(safety_relay=True)
    assert not tick(sup, 0.0, ok(0.0, 30.0)).safety_relay
    sup.start_session(now_s=1.0, max_heater_on_s=7200.0)
    assert tick(sup, 1.0, ok(1.0, 30.0)).safety_relay
    assert not tick(sup, 2.0, ok(2.0, 30.0), phase=False).safety_relay
    assert tick(sup, 3.0, ok(3.0, 30.0)).safety_relay
    sup.end_session(now_s=4.0)
    assert not tick(sup, 4.0, ok(4.0, 30.0)).safety_relay


# -- a welded relay held in check by the safety relay -----------------------------------------------

def test_water_that_warms_back_over_the_target_with_the_heater_off_for_minutes_is_a_stuck_relay():
    """The saw-tooth of a welded heater relay behind a safety relay: over the allowance, cool,
    the safety relay closes, and the water warms back with the heater commanded off."""
    sup = session()
    feed(sup, 0.0, 60.0, flicker(37.0), driven=True)  # the session heated
    verdicts = feed(sup, 60.0, 400.0, lambda t: 38.4 - 0.005 * (t - 60.0))  # cooling, heater off
    assert not sup.faults
    verdicts = feed(sup, 400.0, 460.0, lambda t: 36.7 + 0.03 * (t - 400.0))  # warming, heater off
    t, fault = first_fault(verdicts)
    assert fault.code == s.RELAY_STUCK and t == pytest.approx(400.0 + (38.3 - 36.7) / 0.03, abs=1.0)


@pytest.mark.parametrize("heated, off_s", [(True, 200.0), (False, 600.0)])
def test_a_rise_back_over_the_target_is_no_stuck_relay_soon_after_a_pulse_or_before_any(heated, off_s):
    """Soon after a pulse its heat may still be on its way to the probe; before any pulse, a
    fill warmer than the target may still be climbing into view."""
    sup = session()
    start_s = 0.0
    if heated:
        feed(sup, 0.0, 60.0, flicker(37.0), driven=True)
        start_s = 60.0
    rise_s = start_s + off_s - 40.0
    feed(sup, start_s, rise_s, flicker(37.5))
    feed(sup, rise_s, rise_s + 60.0, lambda t: 37.5 + 0.03 * (t - rise_s))
    assert not sup.faults
