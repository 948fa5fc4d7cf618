"""The simulated bath: the thermal model seen through the real adapter and real gpiozero pins."""

import pytest

from hardware.reading import CRC, MISSING, POWER_ON
from hardware.simbath import SIM_PINS, SimulatedBath


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
    sim.bath.crc_burst(1)
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
