"""The simulated bath: the thermal model seen through the real adapter and real gpiozero pins."""

import pytest

from hardware.errors import HardwareError
from hardware.reading import CRC, MISSING, POWER_ON
from hardware.rig import Pin
from hardware.simbath import SIM_PINS, SimulatedBath
from hardware.w1file import SIMULATED_CHECK_ID, SIMULATED_SENSOR_ID, sensor_names

SAFETY = Pin(5, active_high=False)


@pytest.fixture
def sim(tmp_path):
    bath = SimulatedBath(tmp_path / "w1", water_c=30.0, seed=1)
    yield bath
    bath.close()


def run(sim, seconds):
    end = sim.now_s + seconds
    while sim.now_s < end:
        sim.advance(sim.next_read_s())
    return sim.read()


def test_the_reading_comes_through_the_real_library_from_the_model(sim):
    reading = sim.read()
    assert reading.ok
    assert reading.water_c == pytest.approx(sim.bath.probe_c, abs=0.1)
    assert reading.taken_s == sim.now_s
    assert reading.water_c * 16 == int(reading.water_c * 16)  # 12-bit steps, as the DS18B20 says


def test_the_heater_pin_heats_the_model_and_only_it(sim):
    assert "safety_relay" not in sim.rig.pins  # none unless asked for: the heater relay alone
    idle = run(sim, 120).water_c
    assert idle < 30.0  # an open basin cools toward the room
    sim.rig.set_heater(True)
    assert sim.factory.pin(SIM_PINS["heater"].number).state == 0  # active-low relay: on is low
    warmed = run(sim, 300).water_c
    assert warmed > idle + 3.0  # 500 W in 5 L: about 1.4 C a minute, seen through the probe's lag
    sim.rig.set_heater(False)
    assert sim.factory.pin(SIM_PINS["heater"].number).state == 1


def test_the_pump_stirs_the_model(sim):
    assert not sim.bath.pump_on
    sim.rig.set_pump(True)
    sim.advance(1.0)
    assert sim.bath.pump_on


def test_injected_sensor_faults_arrive_as_the_adapters_bad_readings(sim):
    sim.bath.crc_burst(0.5)
    sim.advance(1.0)
    assert sim.read().fault == CRC
    sim.advance(1.0)
    assert sim.read().ok
    sim.bath.glitch_85()
    sim.advance(1.0)
    assert sim.read().fault == POWER_ON
    sim.bath.unplug_sensor()
    sim.advance(1.0)
    assert sim.read().fault == MISSING
    sim.bath.plug_sensor()
    sim.advance(1.0)
    assert sim.read().ok


def test_an_unplugging_for_some_seconds_is_a_dropout_of_that_length(sim):
    sim.bath.unplug_sensor(seconds=9.0)
    faults = []
    while sim.now_s < 12.0:
        sim.advance(0.25)
        faults.append((sim.now_s, sim.read().fault))
    assert {fault for t, fault in faults if t < 9.0} == {MISSING}
    assert {fault for t, fault in faults if t >= 9.0} == {None}


def test_the_check_probe_is_a_second_sensor_on_the_bus(tmp_path):
    sim = SimulatedBath(tmp_path / "w1", water_c=36.0, seed=1, check_sensor=True)
    try:
        assert sensor_names(sim.bus.devices_dir) == [SIMULATED_SENSOR_ID, SIMULATED_CHECK_ID]
        assert (sim.thermometer.sensor_id, sim.check_thermometer.sensor_id) == (
            SIMULATED_SENSOR_ID, SIMULATED_CHECK_ID)
        sim.bath.lift_probe()
        for _ in range(120):
            sim.advance(sim.next_read_s())
        main, check = sim.read(), sim.read_check()
        assert check.water_c == pytest.approx(sim.bath.check_probe_c, abs=0.1)
        assert main.water_c == pytest.approx(sim.bath.probe_c, abs=0.1)
        assert check.water_c - main.water_c > 2.0  # the main probe cools in the air, the check does not
        sim.bath.unplug_check_sensor()
        sim.advance(1.0)
        assert sim.read_check().fault == MISSING and sim.read().ok
        sim.bath.plug_check_sensor()
        sim.advance(1.0)
        assert sim.read_check().ok
    finally:
        sim.close()


def test_without_a_check_probe_there_is_one_sensor_and_no_check_read(sim):
    assert sensor_names(sim.bus.devices_dir) == [SIMULATED_SENSOR_ID]
    with pytest.raises(HardwareError, match="no check probe"):
        sim.read_check()


def test_an_open_safety_relay_keeps_a_welded_heater_relay_cold(tmp_path):
    sim = SimulatedBath(tmp_path / "w1", water_c=37.0, seed=1, pins=SIM_PINS | {"safety_relay": SAFETY})
    try:
        sim.rig.set_heater(True)
        sim.advance(60.0)
        assert not sim.bath.heater_effective and sim.bath.heat_in_j == 0.0  # open: built off
        sim.bath.stick_relay()
        sim.rig.set_heater(False)
        sim.advance(60.0)
        assert sim.bath.heat_in_j == 0.0
        sim.rig.set_safety_relay(True)
        assert sim.factory.pin(SAFETY.number).state == 0  # active-low relay: closed is low
        sim.advance(60.0)
        assert sim.bath.heater_effective and sim.bath.heat_in_j > 0.0  # the weld heats once closed
        sim.rig.set_safety_relay(False)
        sim.advance(1.0)
        assert not sim.bath.heater_effective
    finally:
        sim.close()


def test_the_float_switch_pin_follows_the_water(sim):
    assert sim.rig.water_present is True
    sim.bath.empty_basin()
    sim.advance(1.0)
    assert sim.rig.water_present is False


def test_the_stop_button_cuts_the_outputs(sim):
    stopped = []
    sim.rig.on_stop = lambda: stopped.append(sim.rig.heater_on)
    sim.rig.set_heater(True)
    sim.press_stop()
    assert stopped == [False]  # off before the callback ran
    assert sim.rig.stopped
    sim.release_stop()
    sim.rig.clear_stop()
    sim.rig.set_heater(True)
    assert sim.rig.heater_on
