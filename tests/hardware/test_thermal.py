"""The simulated basin against DESIGN.md section 6's reference figures, and its faults.

Time is stepped by the test; nothing sleeps. Figures are checked within stated tolerances:
the model is a lumped one, calibrated, not fitted to the decimal.
"""

import math
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware import reading as rd
from hardware.control import BangBang
from hardware.errors import HardwareError
from hardware.reading import reading_from
from hardware.thermal import QUANTUM_C, BathParams, ThermalBath, quantise

STEP_S = 0.5


def run_until(bath: ThermalBath, condition, *, heater_on: bool, limit_s: float = 4000.0) -> float:
    """Step until condition(bath) holds; return the elapsed time. Fails rather than loop forever."""
    start = bath.elapsed_s
    while not condition(bath):
        assert bath.elapsed_s - start < limit_s, "the condition never came"
        bath.step(STEP_S, heater_on=heater_on)
    return bath.elapsed_s - start


def run_for(bath: ThermalBath, seconds: float, *, heater_on: bool) -> None:
    for _ in range(round(seconds / STEP_S)):
        bath.step(STEP_S, heater_on=heater_on)


# Reference figures.

@pytest.mark.parametrize(("heater_w", "minutes"), [(500.0, 12.6), (300.0, 21.0)])
def test_heating_5_litres_by_18_c_takes_377_kj(heater_w, minutes):
    """No losses: 377 kJ, 12.6 min at 500 W, 21 min at 300 W (plus the element's warm-up)."""
    bath = ThermalBath(BathParams(heater_w=heater_w, loss_w_at_38=0.0), water_c=20.0)
    took_s = run_until(bath, lambda b: b.water_c >= 38.0, heater_on=True)
    assert bath.heat_in_j == pytest.approx(377e3, rel=0.005)
    element_lag_s = bath.params.element_tau_s
    assert took_s == pytest.approx(minutes * 60 + element_lag_s, abs=15)


def test_open_basin_loses_about_120_w_at_38_c():
    """0.35 C/min cooling, unheated, at 38 C."""
    bath = ThermalBath(water_c=38.2)
    run_for(bath, 60, heater_on=False)
    assert 38.2 - bath.water_c == pytest.approx(0.35, abs=0.02)
    assert bath.heat_lost_j / 60 == pytest.approx(120, abs=6)


def test_losses_scale_with_the_surface():
    small, large = BathParams(litres=5.0), BathParams(litres=8.0)
    assert small.loss_w(38.0) == pytest.approx(120.0)
    assert large.loss_w(38.0) == pytest.approx(120.0 * 1.6 ** (2 / 3))
    # Evaporation makes an over-hot basin lose more than in proportion.
    assert small.loss_w(48.0) > 120.0 * (48 - 22) / (38 - 22)
    assert small.loss_w(22.0) > 0  # evaporation goes on at room temperature
    assert small.loss_w(15.0) < 0  # a basin colder than the room gains heat


def test_a_stuck_relay_at_500_w_reaches_44_c_in_6_min_and_48_c_in_10_5_min():
    """Counted from the water passing 38 C with the element already hot."""
    bath = ThermalBath(water_c=36.0)
    bath.stick_relay()
    run_until(bath, lambda b: b.water_c >= 38.0, heater_on=False)
    to_44 = run_until(bath, lambda b: b.water_c >= 44.0, heater_on=False)
    to_48 = to_44 + run_until(bath, lambda b: b.water_c >= 48.0, heater_on=False)
    assert to_44 / 60 == pytest.approx(5.9, abs=0.3)
    assert to_48 / 60 == pytest.approx(10.5, abs=0.4)


def bang_bang_run(params: BathParams, seed: int, duration_s: float = 3600.0):
    """Plain bang-bang (0.3 C band) from 30 C to 38 C; (times, true water, readings)."""
    bath = ThermalBath(params, water_c=30.0, seed=seed)
    control, on = BangBang(0.3), False
    times, water, readings = [], [], []
    while bath.elapsed_s < duration_s:
        bath.step(bath.read_duration_s(), heater_on=on)
        reading = reading_from(bath.sensor_output(), bath.elapsed_s).water_c
        on = control.tick(now_s=bath.elapsed_s, water_c=reading, target_c=38.0)
        times.append(bath.elapsed_s)
        water.append(bath.water_c)
        readings.append(reading)
    return times, water, readings


@pytest.mark.parametrize("seed", [0, 1])
def test_bang_bang_in_still_water_overshoots_1_3_c_with_a_1_9_c_band(seed):
    """The calibration target of the still-water lags: bang-bang with a 0.3 C band."""
    times, water, readings = bang_bang_run(BathParams(), seed)
    assert max(water) - 38.0 == pytest.approx(1.3, abs=0.2)
    steady_water = [w for t, w in zip(times, water, strict=True) if t > 1200]
    steady_readings = [r for t, r in zip(times, readings, strict=True) if t > 1200]
    assert max(steady_water) - min(steady_water) == pytest.approx(1.9, abs=0.25)
    assert max(steady_readings) - min(steady_readings) == pytest.approx(1.9, abs=0.25)


def test_stirring_takes_most_of_the_overshoot_away():
    _, still, _ = bang_bang_run(BathParams(), 0, 1200)
    _, stirred, _ = bang_bang_run(BathParams(stirred=True), 0, 1200)
    assert max(stirred) - 38.0 < 0.5 < max(still) - 38.0 - 0.5


# The probe's view.

@pytest.mark.parametrize(("stirred", "lag_s"), [(False, 40.0 + 30.0), (True, 0.0 + 10.0)])
def test_the_probe_trails_a_steady_heating_by_delay_plus_time_constant(stirred, lag_s):
    bath = ThermalBath(BathParams(stirred=stirred, loss_w_at_38=0.0), water_c=25.0)
    history = []
    for _ in range(round(400 / STEP_S)):
        bath.step(STEP_S, heater_on=True)
        history.append((bath.elapsed_s, bath.water_c))
    then_c = next(c for t, c in history if t >= bath.elapsed_s - lag_s)
    assert bath.probe_c == pytest.approx(then_c, abs=0.05)


def test_still_water_hides_a_heating_from_the_probe_for_the_mixing_delay():
    bath = ThermalBath(water_c=30.0)
    run_for(bath, 38, heater_on=True)
    assert bath.water_c > 30.3
    assert bath.probe_c <= 30.0  # it still sees the water as it was


def test_the_pump_shortens_the_probes_lag():
    bath = ThermalBath(water_c=30.0)
    bath.set_pump(True)
    run_for(bath, 60, heater_on=True)
    assert bath.water_c - bath.probe_c < 0.5


def test_feet_take_about_2_c_from_5_litres_and_half_that_from_10():
    for litres, drop_c in ((5.0, 2.0), (10.0, 1.0)):
        # Without room losses, which would differ between a cooler and a warmer basin.
        params = BathParams(litres=litres, loss_w_at_38=0.0)
        with_feet, without = (ThermalBath(params, water_c=38.0) for _ in range(2))
        with_feet.feet_in()
        run_for(with_feet, 180, heater_on=False)
        run_for(without, 180, heater_on=False)
        kept_by_feet_c = with_feet.params.feet_w * 180 / with_feet.params.capacity_j_per_k
        assert without.water_c - with_feet.water_c - kept_by_feet_c == pytest.approx(drop_c, abs=0.1)


# The sensor.

def test_the_sensor_reports_the_probe_in_sixteenths_with_small_noise():
    bath = ThermalBath(water_c=37.3, seed=3)
    values = [bath.sensor_output().raw_c for _ in range(2000)]
    assert all(v == quantise(v) and (v / QUANTUM_C).is_integer() for v in values)
    assert statistics.mean(values) == pytest.approx(bath.probe_c, abs=0.01)
    assert 0.01 < statistics.stdev(values) < 0.04


@given(st.floats(min_value=0.0, max_value=60.0, allow_nan=False))
@settings(max_examples=200, deadline=None)
def test_quantise_rounds_to_the_nearest_sixteenth(temp_c):
    q = quantise(temp_c)
    assert abs(q - temp_c) <= QUANTUM_C / 2 + 1e-12
    assert (q * 16).is_integer()


def test_reads_take_0_83_to_0_92_s_with_occasional_1_8_s_outliers():
    bath = ThermalBath(seed=5)
    durations = [bath.read_duration_s() for _ in range(5000)]
    outliers = [d for d in durations if d > 1.0]
    assert all(0.83 <= d <= 0.92 for d in durations if d <= 1.0)
    assert set(outliers) == {1.8}
    assert 0.01 < len(outliers) / len(durations) < 0.035


def test_a_seed_makes_a_run_repeatable_and_another_seed_changes_it():
    def run(seed):
        bath = ThermalBath(seed=seed)
        out = []
        for _ in range(200):
            bath.step(bath.read_duration_s(), heater_on=True)
            out.append((bath.elapsed_s, bath.sensor_output().raw_c))
        return out

    assert run(7) == run(7)
    assert run(7) != run(8)


def main_probe_run(*, read_check: bool) -> list[float]:
    bath = ThermalBath(water_c=30.0, seed=0)
    out = []
    for i in range(400):
        bath.step(bath.read_duration_s(), heater_on=i < 300)
        out.append(bath.sensor_output().raw_c)
        if read_check:
            bath.check_sensor_output()
    return out


def test_the_main_probes_draws_are_the_same_with_or_without_a_check_probe():
    """The benchmarks' figures rest on these draws: the check probe has its own generator, used
    only when it is read. The sum is what this seed gave before there was a check probe."""
    alone = main_probe_run(read_check=False)
    assert main_probe_run(read_check=True) == alone
    assert sum(alone) == 12812.625 and alone[-3:] == [34.9375, 35.0, 35.0]


# Faults.

def read(bath: ThermalBath) -> rd.Reading:
    return reading_from(bath.sensor_output(), bath.elapsed_s)


def test_an_unplugged_sensor_is_missing_until_plugged_back():
    bath = ThermalBath(water_c=36.0)
    bath.unplug_sensor()
    assert read(bath).fault == rd.MISSING
    assert read(bath).fault == rd.MISSING
    bath.plug_sensor()
    assert read(bath).water_c == pytest.approx(36.0, abs=0.1)


def reads_every(bath: ThermalBath, period_s: float, until_s: float) -> list[tuple[float, str | None]]:
    """Read every period_s of simulated time until until_s: (time, fault) of each read. Give
    periods exact in binary (1, 0.5, 0.125, ...) so the times land exactly on the edges."""
    out = []
    while bath.elapsed_s + period_s <= until_s:
        bath.step(period_s, heater_on=False)
        out.append((bath.elapsed_s, read(bath).fault))
    return out


def test_a_crc_burst_lasts_its_time_however_often_the_bus_is_read():
    """Judged by time, not by reads: 5 s of interference is 5 s whether the bus is read once a
    second or ten times."""
    for period_s in (1.0, 0.125):
        bath = ThermalBath(water_c=36.0)
        bath.crc_burst(5.0)
        faults = reads_every(bath, period_s, 8.0)
        assert {fault for t, fault in faults if t < 5.0} == {rd.CRC}
        assert {fault for t, fault in faults if t >= 5.0} == {None}


def test_a_burst_shorter_than_a_read_fails_the_read_under_way_only():
    """The bench's single glitch: interference for half a second spoils the 0.875 s read it
    falls in, and nothing after it."""
    bath = ThermalBath(water_c=36.0)
    bath.crc_burst(0.5)
    assert [fault for _, fault in reads_every(bath, 0.875, 3.0)] == [rd.CRC, None, None]


def test_the_85_c_glitch_is_one_read():
    bath = ThermalBath(water_c=36.0)
    bath.glitch_85()
    first, second = read(bath), read(bath)
    assert (first.fault, first.raw_c) == (rd.POWER_ON, 85.0)
    assert second.ok


def test_the_85_c_glitch_can_last_a_while():
    bath = ThermalBath(water_c=36.0)
    bath.step(100.0, heater_on=False)  # timed from the injection, not from the start
    bath.glitch_85(seconds=3.0)
    readings = [(t, fault) for t, fault in reads_every(bath, 0.5, 105.0)]
    assert {fault for t, fault in readings if t < 103.0} == {rd.POWER_ON}
    assert {fault for t, fault in readings if t >= 103.0} == {None}


def test_an_unplugging_for_some_seconds_ends_by_itself_or_at_plug_sensor():
    bath = ThermalBath(water_c=36.0)
    bath.unplug_sensor(seconds=10.0)
    faults = reads_every(bath, 0.25, 12.0)
    assert {fault for t, fault in faults if t < 10.0} == {rd.MISSING}
    assert {fault for t, fault in faults if t >= 10.0} == {None}
    bath.unplug_sensor(seconds=10.0)
    bath.step(1.0, heater_on=False)
    assert read(bath).fault == rd.MISSING
    bath.plug_sensor()
    assert read(bath).ok


@pytest.mark.parametrize(("unplugged_s", "crc_s", "faults"), [
    (2.0, 4.0, [rd.MISSING, rd.CRC, rd.CRC, None, None]),
    (3.0, 2.0, [rd.MISSING, rd.MISSING, None, None, None]),  # the burst was over, unseen
])
def test_timed_faults_run_side_by_side_each_to_its_own_end(unplugged_s, crc_s, faults):
    bath = ThermalBath(water_c=36.0)
    bath.unplug_sensor(seconds=unplugged_s)
    bath.crc_burst(crc_s)
    assert [fault for _, fault in reads_every(bath, 1.0, 5.0)] == faults


@pytest.mark.parametrize("inject", ["crc_burst", "glitch_85", "unplug_sensor"])
@pytest.mark.parametrize("seconds", [-1.0, math.nan])
def test_a_fault_cannot_last_a_negative_time(inject, seconds):
    with pytest.raises(HardwareError, match="must last 0 s or more"):
        getattr(ThermalBath(), inject)(seconds)


def test_a_forced_reading_drives_a_ramp_exactly_whatever_the_water_does():
    """30 -> 43 C at 0.2 C/s, far faster than the water could: each read is the forced value to
    the nearest 1/16 C, without noise, and the water is untouched."""
    bath = ThermalBath(water_c=36.0, seed=4)
    seen = []
    while bath.elapsed_s < 65.0:
        bath.step(0.5, heater_on=False)
        ramp_c = min(43.0, 30.0 + 0.2 * bath.elapsed_s)
        bath.force_reading(ramp_c)
        seen.append((ramp_c, read(bath).water_c))
    assert all(got == quantise(wanted) for wanted, got in seen)
    assert seen[0][1] == 30.125 and seen[-1][1] == 43.0
    assert 35.0 < bath.water_c < 36.0  # an unheated basin, slowly cooling
    bath.force_reading(None)
    assert read(bath).water_c == pytest.approx(bath.probe_c, abs=0.1)
    with pytest.raises(HardwareError, match="must be a temperature"):
        bath.force_reading(math.inf)


def test_a_frozen_reading_stays_valid_and_unchanged_while_the_water_heats():
    bath = ThermalBath(water_c=36.0)
    bath.freeze_reading()
    frozen = read(bath).water_c
    run_for(bath, 300, heater_on=True)
    assert bath.probe_c > frozen + 1.0
    assert {read(bath).water_c for _ in range(20)} == {frozen}
    bath.unfreeze_reading()
    assert read(bath).water_c > frozen + 1.0


def test_a_lifted_probe_drifts_to_room_air_slowly_while_the_water_heats():
    bath = ThermalBath(water_c=38.0)
    run_for(bath, 120, heater_on=False)  # let the probe settle on the water
    probe_before, water_before = bath.probe_c, bath.water_c
    bath.lift_probe()
    run_for(bath, 90, heater_on=True)
    expected = 22.0 + (probe_before - 22.0) * math.exp(-90 / bath.params.probe_air_tau_s)
    assert bath.probe_c == pytest.approx(expected, abs=0.05)
    assert bath.water_c > water_before + 1.0
    # No 0.2 C rise in 90 s of heating: what the safety supervisor's heating check looks for.
    assert bath.probe_c < probe_before
    bath.lower_probe()
    run_for(bath, 300, heater_on=False)
    assert bath.probe_c == pytest.approx(bath.water_c, abs=0.5)  # it trails a cooling basin


def test_a_drifting_probe_reads_low_while_the_water_and_the_check_probe_do_not():
    bath = ThermalBath(BathParams(noise_c=0.0, loss_w_at_38=0.0), water_c=37.0)
    bath.step(10.0, heater_on=False)
    bath.drift_probe(-2.0, over_s=60.0)
    bath.step(30.0, heater_on=False)
    assert bath.offset_c == pytest.approx(-1.0)
    assert read(bath).water_c == quantise(37.0 - 1.0)
    bath.step(30.0, heater_on=False)
    assert read(bath).water_c == quantise(37.0 - 2.0)
    bath.step(600.0, heater_on=False)
    assert read(bath).water_c == quantise(37.0 - 2.0)  # it stays bad
    assert reading_from(bath.check_sensor_output(), bath.elapsed_s).water_c == quantise(37.0)
    bath.drift_probe(0.0, over_s=0.0)  # from where it is, at once
    assert read(bath).water_c == quantise(37.0)
    with pytest.raises(HardwareError, match="must last 0 s or more"):
        bath.drift_probe(1.0, over_s=-5.0)


# The check probe.

def check(bath: ThermalBath) -> rd.Reading:
    return reading_from(bath.check_sensor_output(), bath.elapsed_s)


def test_the_check_probe_sits_in_the_same_water_with_the_same_lags():
    bath = ThermalBath(BathParams(check_offset_c=0.25), water_c=30.0, seed=2)
    run_for(bath, 120, heater_on=True)
    assert bath.check_probe_c == bath.probe_c  # the same lags from the same start
    assert bath.probe_c < bath.water_c - 1.0  # both trail the heating
    values = [check(bath).water_c for _ in range(400)]
    assert statistics.mean(values) == pytest.approx(bath.probe_c + 0.25, abs=0.01)
    assert 0.01 < statistics.stdev(values) < 0.04  # noise of its own
    assert all((v * 16).is_integer() for v in values)


def test_the_main_probes_faults_leave_the_check_probe_alone():
    bath, healthy = ThermalBath(water_c=37.0), ThermalBath(water_c=37.0)
    run_for(bath, 60, heater_on=False)
    bath.lift_probe()
    bath.unplug_sensor()
    bath.crc_burst(100.0)
    bath.glitch_85(100.0)
    bath.force_reading(50.0)
    bath.drift_probe(-3.0, over_s=10.0)
    run_for(bath, 90, heater_on=False)
    run_for(healthy, 150, heater_on=False)
    assert read(bath).fault == rd.MISSING
    assert bath.check_probe_c == healthy.probe_c  # what a probe left in the water sees
    assert check(bath).water_c == pytest.approx(healthy.probe_c, abs=0.1)
    assert bath.probe_c < bath.water_c - 3.0  # the lifted main probe cools in the air


def test_an_unplugged_check_probe_is_missing_and_the_main_probe_reads_on():
    bath = ThermalBath(water_c=36.0)
    bath.unplug_check_sensor()
    assert check(bath).fault == rd.MISSING
    assert read(bath).ok
    bath.plug_check_sensor()
    assert check(bath).water_c == pytest.approx(36.0, abs=0.1)


def test_both_probes_read_air_in_an_empty_basin():
    bath = ThermalBath(water_c=38.0)
    bath.empty_basin()
    run_for(bath, 300, heater_on=False)
    assert bath.check_probe_c == bath.probe_c < 30.0


# The relays.

def test_a_stuck_relay_heats_whatever_the_command():
    bath = ThermalBath(water_c=37.0)
    bath.stick_relay()
    assert bath.heater_effective
    run_for(bath, 120, heater_on=False)
    assert bath.heater_effective
    assert bath.water_c > 37.5
    bath.release_relay()
    bath.step(STEP_S, heater_on=False)
    assert not bath.heater_effective


def test_an_open_safety_relay_cuts_the_element_even_with_the_heater_relay_welded():
    bath = ThermalBath(water_c=37.0)
    bath.step(STEP_S, heater_on=True, safety_closed=False)
    assert not bath.heater_effective
    bath.stick_relay()
    for _ in range(round(120 / STEP_S)):
        bath.step(STEP_S, heater_on=False, safety_closed=False)
    assert not bath.heater_effective and bath.heat_in_j == 0.0
    assert bath.water_c < 37.0
    bath.step(STEP_S, heater_on=False, safety_closed=True)  # closed again: the weld heats
    assert bath.heater_effective and bath.heat_in_j > 0.0


def test_an_empty_basin_says_so_and_heats_nothing_the_probe_can_see():
    bath = ThermalBath(water_c=38.0)
    bath.empty_basin()
    heat_before = bath.heat_in_j
    run_for(bath, 90, heater_on=True)
    assert not bath.water_present
    assert bath.heater_effective
    assert bath.heat_in_j == heat_before
    assert bath.probe_c < 38.0 - 0.2  # the heating check sees no rise


def test_an_over_hot_fill_reaches_the_probe_through_its_lag():
    bath = ThermalBath(water_c=30.0)
    bath.empty_basin()
    bath.fill(43.0)
    assert bath.water_present and bath.water_c == 43.0
    run_for(bath, 30, heater_on=False)
    assert 30.0 < bath.probe_c < 42.0
    run_for(bath, 150, heater_on=False)
    assert bath.probe_c > 42.0  # at or above ceiling + 1 C: a latched fault for the supervisor


# Stepping.

def test_one_long_step_and_many_short_ones_agree():
    coarse, fine = ThermalBath(water_c=33.0), ThermalBath(water_c=33.0)
    coarse.step(120.0, heater_on=True)
    for _ in range(1200):
        fine.step(0.1, heater_on=True)
    assert coarse.elapsed_s == pytest.approx(fine.elapsed_s)
    assert coarse.water_c == pytest.approx(fine.water_c, abs=0.01)
    assert coarse.probe_c == pytest.approx(fine.probe_c, abs=0.05)


def test_time_cannot_run_backwards_and_nonsense_parameters_are_refused():
    bath = ThermalBath()
    with pytest.raises(HardwareError, match="backwards"):
        bath.step(-1.0, heater_on=False)
    bath.step(0.0, heater_on=True)  # a zero step only records the command
    assert bath.heater_effective and bath.elapsed_s == 0.0
    with pytest.raises(HardwareError, match="litres"):
        BathParams(litres=0.0)
    with pytest.raises(HardwareError):
        BathParams(evaporative_share=1.5)
