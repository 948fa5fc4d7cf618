"""The thermometer adapter: real w1_slave files in a temp dir, read by the real w1thermsensor code."""

import logging
import shutil
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from w1thermsensor import W1ThermSensor

from hardware.errors import HardwareError
from hardware.reading import (
    CRC,
    MINUS,
    MISSING,
    POWER_ON,
    RANGE,
    SENTINEL,
    UNREADABLE,
    ZERO,
    Reading,
    SensorOutput,
    reading_from,
)
from hardware.thermometer import Thermometer, ThermometerReader, open_sensor
from hardware.w1file import SIMULATED_SENSOR_ID, SimulatedBus, w1_slave, write_bus

ID_A, ID_B, ID_C = "28-0316a27902ff", "28-3c01d607b0f2", "28-00000a1b2c3d"
GOOD_21_5 = "58 01 4b 46 7f ff 08 10 f9 : crc=f9 YES\n58 01 4b 46 7f ff 08 10 f9 t=21500\n"
POWER_ON_85 = "50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n50 05 4b 46 7f ff 0c 10 1c t=85000\n"
WAIT_S = 30.0  # an upper bound for a thread to answer, never a figure under test


def test_a_good_reading(w1_bus, step_clock):
    w1_bus.write_w1_slave(GOOD_21_5)
    thermometer = Thermometer(devices_dir=w1_bus.devices_dir, clock=step_clock)
    assert thermometer.sensor_id == SIMULATED_SENSOR_ID
    assert thermometer.read() == Reading(taken_s=100.0, water_c=21.5, fault=None, raw_c=21.5)
    assert thermometer.read().taken_s == 101.0  # each read stamped by the injected clock


@pytest.mark.parametrize(("output", "fault", "raw_c"), [
    (SensorOutput(crc_ok=False, raw_c=37.0), CRC, None),
    (SensorOutput(raw_c=85.0), POWER_ON, 85.0),
    (SensorOutput(raw_c=127.94), SENTINEL, 127.9375),  # 07FFh, the nearest the register holds
    (SensorOutput(raw_c=0.0), ZERO, 0.0),
    (SensorOutput(raw_c=-0.0625), MINUS, -0.0625),
    (SensorOutput(raw_c=61.0), RANGE, 61.0),
    (SensorOutput(raw_c=-1.0), RANGE, -1.0),
    (SensorOutput(present=False), MISSING, None),
])
def test_each_bad_case_is_a_bad_reading(w1_bus, step_clock, output, fault, raw_c):
    w1_bus.show(SensorOutput(raw_c=37.5))
    thermometer = Thermometer(devices_dir=w1_bus.devices_dir, clock=step_clock)
    assert thermometer.read().water_c == 37.5
    w1_bus.show(output)
    reading = thermometer.read()
    assert reading == Reading(taken_s=101.0, water_c=None, fault=fault, raw_c=raw_c)
    assert not reading.ok and reading.message


def test_the_power_on_file_from_a_real_sensor_is_a_power_on_fault(w1_bus, step_clock):
    w1_bus.write_w1_slave(POWER_ON_85)
    assert Thermometer(devices_dir=w1_bus.devices_dir, clock=step_clock).read().fault == POWER_ON


def test_no_sensor_says_what_to_check(w1_bus):
    with pytest.raises(HardwareError) as caught:
        Thermometer(devices_dir=w1_bus.devices_dir)
    message = str(caught.value)
    assert "no DS18B20" in message and str(w1_bus.devices_dir) in message
    assert "dtoverlay=w1-gpio" in message and "4.7 kOhm pull-up" in message and "wiring" in message


def test_no_bus_at_all_says_what_to_check(tmp_path):
    with pytest.raises(HardwareError, match=r"no 1-Wire bus at .*dtoverlay=w1-gpio"):
        Thermometer(devices_dir=tmp_path / "absent")


def test_two_sensors_and_no_id_is_an_error_listing_both(tmp_path):
    devices = tmp_path / "devices"
    write_bus(devices, {ID_B: w1_slave(30.0), ID_A: w1_slave(20.0)})
    with pytest.raises(HardwareError) as caught:
        Thermometer(devices_dir=devices)
    assert f"{ID_A}, {ID_B}" in str(caught.value)
    assert "hardware.thermometer.sensor_id" in str(caught.value)


@pytest.mark.parametrize("given", [ID_B, ID_B[3:], ID_B.upper(), ID_B[3:].upper()])
def test_a_chosen_id_among_several_with_or_without_its_prefix(tmp_path, step_clock, given):
    devices = tmp_path / "devices"
    write_bus(devices, {ID_A: w1_slave(20.0), ID_B: w1_slave(30.0), ID_C: w1_slave(40.0)})
    thermometer = Thermometer(sensor_id=given, devices_dir=devices, clock=step_clock)
    assert thermometer.sensor_id == ID_B
    assert thermometer.read().water_c == 30.0


def test_an_id_that_is_not_on_the_bus_lists_those_that_are(tmp_path):
    devices = tmp_path / "devices"
    write_bus(devices, {ID_A: w1_slave(20.0)})
    with pytest.raises(HardwareError, match=rf"{ID_C} .*not on the 1-Wire bus.*DS18B20s there: {ID_A}"):
        Thermometer(sensor_id=ID_C, devices_dir=devices)


@pytest.mark.parametrize("bad", ["28-123", "10-0316a27902ff", "probe"])
def test_a_malformed_id_is_a_config_error(w1_bus, bad):
    w1_bus.show(SensorOutput(raw_c=30.0))
    with pytest.raises(HardwareError, match=r"hardware.thermometer.sensor_id: .*12 hex digits"):
        Thermometer(sensor_id=bad, devices_dir=w1_bus.devices_dir)


def test_a_sensor_that_disappears_and_comes_back_never_repeats_the_old_value(w1_bus, step_clock):
    w1_bus.show(SensorOutput(raw_c=36.0))
    thermometer = Thermometer(devices_dir=w1_bus.devices_dir, clock=step_clock)
    assert thermometer.read().water_c == 36.0
    w1_bus.unplug()
    assert thermometer.read() == Reading(taken_s=101.0, water_c=None, fault=MISSING)
    assert thermometer.read().fault == MISSING
    w1_bus.show(SensorOutput(raw_c=36.5))
    assert thermometer.read() == Reading(taken_s=103.0, water_c=36.5, fault=None, raw_c=36.5)


def test_the_whole_bus_going_away_is_a_missing_sensor_not_an_exception(w1_bus, step_clock):
    w1_bus.show(SensorOutput(raw_c=36.0))
    thermometer = Thermometer(devices_dir=w1_bus.devices_dir, clock=step_clock)
    shutil.rmtree(w1_bus.devices_dir)  # the w1 modules unloaded
    assert thermometer.read().fault == MISSING


@pytest.mark.parametrize("cut", range(len(GOOD_21_5)))
def test_no_part_of_a_good_file_is_ever_read_as_a_temperature(w1_bus, step_clock, cut):
    """Empty, only the first line, or cut anywhere in a line: unreadable, never a wrong value
    (the library alone would decode `58 0` as 5.5 C)."""
    w1_bus.show(SensorOutput(raw_c=36.0))
    thermometer = Thermometer(devices_dir=w1_bus.devices_dir, clock=step_clock)
    w1_bus.write_w1_slave(GOOD_21_5[:cut], atomic=False)
    assert thermometer.read() == Reading(taken_s=100.0, water_c=None, fault=UNREADABLE)


@pytest.mark.parametrize("text", [
    # Claims YES but carries the wrong CRC: a fake written by hand, not what a kernel shows.
    "58 01 4b 46 7f ff 08 10 f8 : crc=f8 YES\n58 01 4b 46 7f ff 08 10 f8 t=21500\n",
    # Two lines that disagree after a good read.
    "58 01 4b 46 7f ff 08 10 f9 : crc=f9 YES\n50 05 4b 46 7f ff 0c 10 1c t=21500\n",
    "58 01 4b 46 7f ff 08 10 f9 : crc=f9 YES\nzz 01 4b 46 7f ff 08 10 f9 t=21500\n",
])
def test_a_file_that_contradicts_itself_is_unreadable(w1_bus, step_clock, text):
    w1_bus.write_w1_slave(text)
    assert Thermometer(devices_dir=w1_bus.devices_dir, clock=step_clock).read().fault == UNREADABLE


def test_an_all_zero_scratchpad_is_not_ready_as_the_library_says(w1_bus, step_clock):
    zeros = "00 " * 9
    w1_bus.write_w1_slave(f"{zeros}: crc=00 YES\n{zeros}t=0\n")
    assert Thermometer(devices_dir=w1_bus.devices_dir, clock=step_clock).read().fault == CRC


def test_an_injected_sensor_is_read_as_is(w1_bus, step_clock):
    w1_bus.show(SensorOutput(raw_c=38.0))
    checked = Thermometer(sensor=open_sensor(w1_bus.devices_dir), clock=step_clock)
    assert checked.read().water_c == 38.0
    plain_cls = type("LibrarySensor", (W1ThermSensor,), {"BASE_DIRECTORY": w1_bus.devices_dir})
    plain = Thermometer(sensor=plain_cls(sensor_id=SIMULATED_SENSOR_ID[3:]), clock=step_clock)
    assert plain.sensor_id == SIMULATED_SENSOR_ID
    assert plain.read().water_c == 38.0
    w1_bus.write_w1_slave(GOOD_21_5.splitlines(keepends=True)[0])
    assert plain.read().fault == UNREADABLE  # the library's IndexError, translated
    w1_bus.unplug()
    assert plain.read().fault == MISSING


def test_two_thermometers_on_two_directories_do_not_interfere(tmp_path, step_clock):
    # The same sensor id on both buses: only the directory tells them apart.
    left, right = SimulatedBus(tmp_path / "left"), SimulatedBus(tmp_path / "right")
    left.show(SensorOutput(raw_c=20.0))
    right.show(SensorOutput(raw_c=40.0))
    a = Thermometer(devices_dir=left.devices_dir, clock=step_clock)
    b = Thermometer(devices_dir=right.devices_dir, clock=step_clock)
    assert (a.read().water_c, b.read().water_c) == (20.0, 40.0)
    right.unplug()
    assert (a.read().water_c, b.read().fault) == (20.0, MISSING)
    assert str(W1ThermSensor.BASE_DIRECTORY) == "/sys/bus/w1/devices"  # the library's own, untouched


def test_two_readers_on_two_directories_at_once(tmp_path):
    buses = [SimulatedBus(tmp_path / name) for name in ("left", "right")]
    for bus, temp_c in zip(buses, (20.0, 40.0), strict=True):
        bus.show(SensorOutput(raw_c=temp_c))
    readers = [ThermometerReader(Thermometer(devices_dir=bus.devices_dir), pause_s=0) for bus in buses]
    for reader in readers:
        reader.start()
    try:
        assert all(reader.wait_for(50, timeout_s=WAIT_S) for reader in readers)
    finally:
        for reader in readers:
            reader.stop()
    assert [reader.latest().water_c for reader in readers] == [20.0, 40.0]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(
    st.builds(SensorOutput, present=st.just(False)),
    st.builds(SensorOutput, crc_ok=st.booleans(),
              raw_c=st.integers(-55 * 16, 2047).map(lambda count: count / 16)),
), max_size=15))
def test_the_adapter_reads_what_the_simulation_says_it_would(outputs):
    """One code path: through the files and the real library, every output reads as reading_from()."""
    with tempfile.TemporaryDirectory() as folder:
        bus = SimulatedBus(Path(folder))
        bus.show(SensorOutput(raw_c=37.0))
        thermometer = Thermometer(devices_dir=bus.devices_dir, clock=lambda: 5.0)
        for output in outputs:
            bus.show(output)
            assert thermometer.read() == reading_from(output, 5.0), output


# --- the background reader ----------------------------------------------------------------------

def test_the_reader_delivers_readings_in_order_and_stops_cleanly(w1_bus, step_clock):
    script = [SensorOutput(raw_c=30.0), SensorOutput(raw_c=30.5), SensorOutput(present=False),
              SensorOutput(crc_ok=False, raw_c=31.0), SensorOutput(raw_c=31.0), SensorOutput(raw_c=85.0),
              SensorOutput(raw_c=31.5), SensorOutput(raw_c=70.0), SensorOutput(raw_c=32.0)]
    w1_bus.show(script[0])
    thermometer = Thermometer(devices_dir=w1_bus.devices_dir, clock=step_clock)
    seen = []

    def on_reading(reading):  # on the reader's thread, between two reads
        seen.append(reading)
        if len(seen) == len(script):
            reader.stop()  # from the callback itself: must not wait for its own thread
        else:
            w1_bus.show(script[len(seen)])

    reader = ThermometerReader(thermometer, on_reading=on_reading, pause_s=0)
    assert reader.latest() is None and not reader.running
    assert not reader.wait_for(1, timeout_s=0)
    reader.start()
    reader.start()  # twice: still one reader
    assert reader.wait_for(len(script), timeout_s=WAIT_S)
    reader.stop()
    reader.stop()
    assert not reader.running
    assert not [t for t in threading.enumerate() if t.name.startswith("thermometer ")]
    assert seen == [reading_from(output, 100.0 + i) for i, output in enumerate(script)]
    assert reader.latest() == seen[-1] and reader.count == len(script)


def test_the_reader_thread_is_a_daemon_and_can_start_again(w1_bus, step_clock):
    w1_bus.show(SensorOutput(raw_c=33.0))
    reader = ThermometerReader(Thermometer(devices_dir=w1_bus.devices_dir, clock=step_clock), pause_s=0)
    reader.stop()  # before start: nothing to do
    reader.start()
    (thread,) = [t for t in threading.enumerate() if t.name == f"thermometer {SIMULATED_SENSOR_ID}"]
    assert thread.daemon and reader.running
    assert reader.wait_for(3, timeout_s=WAIT_S)
    reader.stop()
    assert not thread.is_alive()
    count = reader.count
    reader.start()
    assert reader.wait_for(count + 3, timeout_s=WAIT_S)
    reader.stop()
    assert reader.latest().water_c == 33.0


def test_a_failing_callback_is_logged_and_the_reader_goes_on(w1_bus, step_clock, caplog):
    w1_bus.show(SensorOutput(raw_c=34.0))

    def on_reading(reading):
        raise RuntimeError("control loop bug")

    reader = ThermometerReader(Thermometer(devices_dir=w1_bus.devices_dir, clock=step_clock),
                               on_reading=on_reading, pause_s=0)
    with caplog.at_level(logging.ERROR, logger="hardware.thermometer"):
        reader.start()
        assert reader.wait_for(3, timeout_s=WAIT_S)
        reader.stop()
    assert "on_reading failed" in caplog.text and "control loop bug" in caplog.text


def test_an_unexpected_error_in_a_read_becomes_an_unreadable_reading(w1_bus, caplog):
    w1_bus.show(SensorOutput(raw_c=35.0))
    times = iter([RuntimeError("clock broke"), 200.0, 201.0, 202.0, 203.0])

    def clock():
        now = next(times, 300.0)
        if isinstance(now, Exception):
            raise now
        return now

    seen = []
    reader = ThermometerReader(Thermometer(devices_dir=w1_bus.devices_dir, clock=clock),
                               on_reading=seen.append, pause_s=0)
    with caplog.at_level(logging.ERROR, logger="hardware.thermometer"):
        reader.start()
        assert reader.wait_for(2, timeout_s=WAIT_S)
        reader.stop()
    assert seen[:2] == [Reading(200.0, None, UNREADABLE), Reading(201.0, 35.0, None, 35.0)]
    assert "read failed" in caplog.text and "clock broke" in caplog.text
