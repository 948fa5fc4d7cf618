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


def test_a_crc_burst_fails_exactly_the_next_n_reads():
    bath = ThermalBath(water_c=36.0)
    bath.crc_burst(3)
    assert [read(bath).fault for _ in range(4)] == [rd.CRC, rd.CRC, rd.CRC, None]


def test_the_85_c_glitch_is_one_read():
    bath = ThermalBath(water_c=36.0)
    bath.glitch_85()
    first, second = read(bath), read(bath)
    assert (first.fault, first.raw_c) == (rd.POWER_ON, 85.0)
    assert second.ok


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
