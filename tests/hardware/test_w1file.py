"""The fake w1_slave files: byte for byte what the kernel shows, and decoded right by the real library."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from w1thermsensor import SensorNotReadyError, W1ThermSensor
from w1thermsensor.core import convert_raw_temperature_to_sensor_count

from hardware.reading import SensorOutput
from hardware.w1file import (
    MASTER,
    MAX_COUNT,
    MIN_COUNT,
    POWER_ON_COUNT,
    SIMULATED_SENSOR_ID,
    corrupted,
    crc8,
    millidegrees,
    parse_w1_slave,
    scratchpad,
    sensor_name,
    w1_slave,
    w1_slave_text,
    write_bus,
)

ID_A, ID_B = "28-0316a27902ff", "28-3c01d607b0f2"

# Known-good files (DESIGN.md): 21.5 C after a conversion, and the power-on 85 C.
GOOD_21_5 = "58 01 4b 46 7f ff 08 10 f9 : crc=f9 YES\n58 01 4b 46 7f ff 08 10 f9 t=21500\n"
POWER_ON = "50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n50 05 4b 46 7f ff 0c 10 1c t=85000\n"


def library_sensor(devices_dir, sensor_id):
    """The plain library on a fake bus: a subclass, so nothing global changes."""
    cls = type("LibrarySensor", (W1ThermSensor,), {"BASE_DIRECTORY": devices_dir})
    return cls(sensor_id=sensor_name(sensor_id)[3:])


def test_encoder_reproduces_the_known_good_files_byte_for_byte():
    assert w1_slave(21.5) == GOOD_21_5
    assert w1_slave(85.0) == POWER_ON


def test_crc8_matches_maxims_worked_example_and_checks_itself():
    # Maxim application note 27: ROM bytes 02 1C B8 01 00 00 00 give CRC A2.
    assert crc8(bytes.fromhex("021cb801000000")) == 0xA2
    # A block followed by its own CRC has CRC 0: how a receiver checks it.
    assert crc8(scratchpad(37.5)) == 0


def test_byte_6_follows_the_low_nibble_as_on_real_sensors():
    assert scratchpad(23.0).hex(" ") == "70 01 4b 46 7f ff 10 10 e1"  # low nibble 0: 10h
    assert scratchpad(21.5)[6] == 0x08  # 58h: 10h - 8
    assert scratchpad(-0.0625)[:2] == b"\xff\xff"  # two's complement, LSB first


def test_every_sixteenth_from_0_to_60_c_round_trips_through_the_real_library(tmp_path):
    devices = tmp_path / "devices"
    write_bus(devices, {ID_A: w1_slave(0.0)})
    sensor = library_sensor(devices, ID_A)
    path = devices / ID_A / "w1_slave"
    for count in range(0, 60 * 16 + 1):
        text = w1_slave(count / 16)
        path.write_text(text)
        assert sensor.get_temperature() == count / 16, text
        assert parse_w1_slave(text).t_millidegrees == int(count * 62.5)


@settings(max_examples=200, deadline=None)
@given(st.integers(MIN_COUNT, MAX_COUNT).filter(lambda c: c != POWER_ON_COUNT))
def test_any_register_value_encodes_consistently(count):
    text = w1_slave(count / 16)
    w1 = parse_w1_slave(text)
    assert w1.crc_ok and w1.crc == w1.received[8] == crc8(w1.received[:8])
    assert w1.kept == w1.received
    second_line = text.splitlines()[1]
    assert convert_raw_temperature_to_sensor_count(second_line) == count  # the library's decoder
    assert abs(w1.t_millidegrees - count * 62.5) < 1  # the kernel truncates toward zero


def test_kernel_t_truncates_toward_zero_like_c():
    assert millidegrees(scratchpad(-0.0625)) == -62
    assert millidegrees(scratchpad(0.0625)) == 62
    assert millidegrees(scratchpad(127.9375)) == 127937


def test_temperatures_outside_the_register_are_refused():
    with pytest.raises(ValueError, match="does not fit"):
        scratchpad(128.0)
    with pytest.raises(ValueError, match="does not fit"):
        scratchpad(-128.1)


def test_a_failed_crc_reads_as_the_kernel_shows_it_and_the_library_refuses_it(tmp_path):
    text = w1_slave(21.5, crc_ok=False)
    assert text.splitlines()[0] == "58 01 4b 46 7f ff 08 10 f8 : crc=f9 NO"
    # The second line is the last scratchpad that passed, zeros when none did; t= is from this read.
    assert text.splitlines()[1] == "00 00 00 00 00 00 00 00 00 t=21500"
    after_a_good_20 = w1_slave_text(corrupted(scratchpad(21.5)), kept=scratchpad(20.0))
    assert after_a_good_20.splitlines()[1] == "40 01 4b 46 7f ff 10 10 1d t=21500"
    devices = tmp_path / "devices"
    write_bus(devices, {ID_A: text})
    with pytest.raises(SensorNotReadyError):
        library_sensor(devices, ID_A).get_temperature()


def test_write_bus_lays_out_the_tree_as_the_kernel_does(tmp_path):
    devices = tmp_path / "devices"
    write_bus(devices, {ID_B: w1_slave(30.0), ID_A.upper(): w1_slave(20.0)})
    assert sorted(p.name for p in devices.iterdir()) == sorted([ID_A, ID_B, MASTER])
    assert (devices / ID_A).is_symlink() and (devices / ID_A).readlink() == Path(MASTER, ID_A)
    assert (devices / ID_A / "w1_slave").read_text() == w1_slave(20.0)
    assert (devices / ID_A / "name").read_text() == f"{ID_A}\n"
    assert (devices / MASTER / "w1_master_slaves").read_text() == f"{ID_A}\n{ID_B}\n"
    assert (devices / MASTER / "w1_master_slave_count").read_text() == "2\n"
    # The real library finds exactly the sensors, and not the bus master.
    cls = type("LibrarySensor", (W1ThermSensor,), {"BASE_DIRECTORY": devices})
    assert sorted(s.id for s in cls.get_available_sensors()) == [ID_A[3:], ID_B[3:]]
    # The whole tree: a sensor left out is taken off the bus.
    write_bus(devices, {ID_B: w1_slave(31.0)})
    assert sorted(p.name for p in devices.iterdir()) == [ID_B, MASTER]
    assert not (devices / MASTER / ID_A).exists()
    assert (devices / MASTER / "w1_master_slaves").read_text() == f"{ID_B}\n"
    write_bus(devices, {})
    assert (devices / MASTER / "w1_master_slaves").read_text() == "not found.\n"
    assert (devices / MASTER / "w1_master_slave_count").read_text() == "0\n"


def test_writes_are_renames_and_leave_no_temporary_files(w1_bus):
    w1_bus.show(SensorOutput(raw_c=30.0))
    path = w1_bus.devices_dir / SIMULATED_SENSOR_ID / "w1_slave"
    before = path.stat().st_ino
    w1_bus.show(SensorOutput(raw_c=30.5))
    assert path.stat().st_ino != before  # a new file renamed over the old one
    assert path.read_text() == w1_slave(30.5)
    sensor_dir = w1_bus.devices_dir / MASTER / SIMULATED_SENSOR_ID
    assert sorted(p.name for p in sensor_dir.iterdir()) == ["name", "w1_slave"]
    assert sorted(p.name for p in (w1_bus.devices_dir / MASTER).iterdir()) == [
        SIMULATED_SENSOR_ID, "w1_master_slave_count", "w1_master_slaves"]


def test_a_write_in_place_on_purpose_leaves_half_a_file(w1_bus):
    w1_bus.show(SensorOutput(raw_c=30.0))
    path = w1_bus.devices_dir / SIMULATED_SENSOR_ID / "w1_slave"
    before = path.stat().st_ino
    w1_bus.write_w1_slave(GOOD_21_5[:30], atomic=False)
    assert path.stat().st_ino == before
    assert path.read_text() == GOOD_21_5[:30]


def test_simulated_bus_follows_the_sensor_output(w1_bus):
    w1_bus.show(SensorOutput(raw_c=36.0))
    assert (w1_bus.devices_dir / SIMULATED_SENSOR_ID / "w1_slave").read_text() == w1_slave(36.0)
    w1_bus.show(SensorOutput(crc_ok=False, raw_c=36.5))
    text = (w1_bus.devices_dir / SIMULATED_SENSOR_ID / "w1_slave").read_text()
    w1 = parse_w1_slave(text)
    assert not w1.crc_ok and w1.kept == scratchpad(36.0)  # the kernel keeps the last good read
    w1_bus.show(SensorOutput(present=False))
    assert not (w1_bus.devices_dir / SIMULATED_SENSOR_ID).exists()
    assert not (w1_bus.devices_dir / SIMULATED_SENSOR_ID).is_symlink()
    assert (w1_bus.devices_dir / MASTER / "w1_master_slaves").read_text() == "not found.\n"
    w1_bus.show(SensorOutput(crc_ok=False, raw_c=37.0))  # back, but this first read fails
    assert parse_w1_slave((w1_bus.devices_dir / SIMULATED_SENSOR_ID / "w1_slave").read_text()).kept \
        == bytes(9)
    w1_bus.unplug()
    w1_bus.unplug()  # already gone: fine


@pytest.mark.parametrize("text", [
    "",
    GOOD_21_5.splitlines(keepends=True)[0],  # only the first line
    GOOD_21_5[:50],  # cut in the second line
    GOOD_21_5[:-1],  # no final newline: t= may be cut short
    GOOD_21_5[:20],
    GOOD_21_5 + GOOD_21_5,
    GOOD_21_5.upper(),
    "58 01 4b 46 7f ff 08 10 : crc=f9 YES\n58 01 4b 46 7f ff 08 10 t=21500\n",  # 8 bytes
    "58 01 4b 46 7f ff 08 10 f9 : crc=f9 MAYBE\n58 01 4b 46 7f ff 08 10 f9 t=21500\n",
    "58 01 4b 46 7f ff 08 10 f9 : crc=f9 YES\n58 01 4b 46 7f ff 08 10 f9 t=\n",
])
def test_parse_refuses_anything_but_the_kernels_two_lines(text):
    with pytest.raises(ValueError):
        parse_w1_slave(text)


def test_parse_reads_both_lines():
    w1 = parse_w1_slave(POWER_ON)
    assert w1.received == w1.kept == bytes.fromhex("50054b467fff0c101c")
    assert (w1.crc, w1.crc_ok, w1.t_millidegrees) == (0x1C, True, 85000)


@pytest.mark.parametrize(("given", "name"), [
    ("0316a27902ff", "28-0316a27902ff"),
    ("28-0316a27902ff", "28-0316a27902ff"),
    (" 28-0316A27902FF\n", "28-0316a27902ff"),
])
def test_sensor_name_accepts_the_id_with_or_without_its_prefix(given, name):
    assert sensor_name(given) == name


@pytest.mark.parametrize("bad", ["", "28-", "0316a27902f", "0316a27902fff", "10-0316a27902ff",
                                 "0316a27902fg"])
def test_sensor_name_refuses_what_is_not_a_ds18b20_id(bad):
    with pytest.raises(ValueError, match="12 hex digits"):
        sensor_name(bad)
