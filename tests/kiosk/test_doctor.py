"""`footbath doctor` against fake Raspberry Pi trees: boot config, sysfs, /dev, /etc and /run laid
out in a temp dir the way a Pi shows them, read through the real w1thermsensor code, with the
real service answering on a real socket. Each check is shown passing, warning and failing."""

import argparse
import contextlib
import io
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from hardware.w1file import w1_slave, write_bus
from kiosk import doctor
from kiosk.config import parse_config
from kiosk.doctor import FAIL, PASS, WARN, Context, cmd_doctor, cmd_doctor_file, make_context, run_checks
from kiosk.journal import FILE_NAME, Journal
from kiosk.service import Service
from tests.samples import MORNING_ROUTINE

REPO = Path(__file__).resolve().parents[2]
SENSOR = "28-0316a2790bff"
CHECK = "28-0316a2790c42"  # a second probe in the same water
GPIO_OTHER_GID = os.getgid() + 4242  # the gpio group's id when the chips belong to footbath
LOCAL_ROUTINE = MORNING_ROUTINE
BOOT = """\
# For more options and information see the documentation
dtparam=audio=on
dtoverlay=vc4-kms-v3d
max_framebuffers=2

[cm4]
otg_mode=1

[all]
dtoverlay=w1-gpio
"""
HEALTHY = {
    "install": PASS, "config": PASS, "routines": PASS, "1-Wire overlay": PASS, "1-Wire bus": PASS,
    "thermometer": PASS, "check probe": PASS, "GPIO chips": PASS, "pins": PASS, "socket": PASS,
    "journal": PASS, "clock": PASS, "CPU temperature": PASS, "power": PASS,
}


def write(path: Path, text: str, mode: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mode is not None:
        path.chmod(mode)
    return path


@pytest.fixture
def root():
    """A short directory (a socket path must stay under 108 bytes) laid out as a healthy Pi with
    footbath installed: the service's user and group are the test's own ids."""
    folder = Path(tempfile.mkdtemp(prefix="fbdoc"))
    uid, gid = os.getuid(), os.getgid()
    write(folder / "etc/passwd", f"footbath:x:{uid}:{gid}::/var/lib/footbath:/usr/sbin/nologin\n")
    write(folder / "etc/group", f"footbath:x:{gid}:footbath-kiosk,pi\ngpio:x:{GPIO_OTHER_GID}:\n")
    units = folder / "etc/systemd/system"
    for unit in doctor.UNITS:
        write(units / unit, (REPO / "systemd" / unit).read_text())
        (units / "multi-user.target.wants").mkdir(parents=True, exist_ok=True)
        (units / "multi-user.target.wants" / unit).symlink_to(f"/etc/systemd/system/{unit}")
    write(folder / "etc/footbath/config.yaml", (REPO / "systemd/config.yaml").read_text())
    write(folder / "etc/footbath/routines/morning.yaml", LOCAL_ROUTINE)
    write(folder / "boot/firmware/config.txt", BOOT)
    write(folder / "proc/device-tree/model", "Raspberry Pi 4 Model B Rev 1.4\0")
    write_bus(folder / "sys/bus/w1/devices", {SENSOR: w1_slave(21.5)})
    (folder / "sys/module/w1_therm").mkdir(parents=True)
    for n in (0, 1):  # character devices cannot be made here: files with the chips' modes stand in
        write(folder / f"dev/gpiochip{n}", "", 0o660)
    write(folder / "run/systemd/timesync/synchronized", "")
    write(folder / "sys/class/thermal/thermal_zone0/temp", "48312\n")
    write(folder / "sys/devices/platform/soc/soc:firmware/get_throttled", "0\n")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def serving(root: Path):
    """The real service (on its simulated bath) with its paths inside the tree, answering."""
    text = (f"paths:\n  routines_dir: {root}/etc/footbath/routines\n  state_dir: {root}/var/lib/footbath\n"
            f"  socket: {root}/run/footbath/footbath.sock\n")
    service = Service(parse_config(text, "test"), simulate=True)
    try:
        service.server.start()
        yield service
    finally:
        service.close()


def results(root: Path, config_text: str | None = None) -> dict[str, doctor.Result]:
    if config_text is not None:
        write(root / "etc/footbath/config.yaml", config_text)
    config = parse_config((root / "etc/footbath/config.yaml").read_text(), "config.yaml")
    return {r.name: r for r in run_checks(make_context(config, root))}


def status(root: Path, name: str, config_text: str | None = None) -> tuple[str, str, str]:
    """One check alone (the whole report is results())."""
    if config_text is not None:
        write(root / "etc/footbath/config.yaml", config_text)
    config = parse_config((root / "etc/footbath/config.yaml").read_text(), "config.yaml")
    r = dict(doctor.CHECKS)[name](make_context(config, root))
    assert r.name == name
    return r.status, r.detail, r.fix


# -- the whole report -------------------------------------------------------------------------

def test_a_healthy_pi_passes_and_the_service_says_it_is_simulated(root):
    with serving(root):
        out = io.StringIO()
        code = cmd_doctor_file(None, root=root, out=out)
        found = results(root)
    text = " ".join(out.getvalue().split())  # as read, whatever the line breaks
    expected = {**HEALTHY, "journal": doctor.room_status(shutil.disk_usage(root).free),
                "pin factory": PASS if doctor.util.find_spec("lgpio") else FAIL,
                "service": WARN}  # the only bath here is the simulated one
    assert {n: r.status for n, r in found.items()} == expected, text
    for line in ("pass thermometer", f"{SENSOR} reads 21.50 C", "pass 1-Wire overlay",
                 "dtoverlay=w1-gpio (data on GPIO 4)", "warn service", "SIMULATED bath",
                 "pass socket", "0660", "5 routines on offer (1 from", "pass power"):
        assert line in text
    assert out.getvalue().splitlines()[-1] == doctor.summary(list(found.values()))
    assert [name for name, _ in doctor.CHECKS] == list(found)
    assert code == (1 if FAIL in expected.values() else 0)


def test_a_missing_sensor_fails_the_thermometer_check_and_the_doctor(root):
    write_bus(root / "sys/bus/w1/devices", {})
    out = io.StringIO()
    code = cmd_doctor_file(None, root=root, out=out)
    assert code == 1
    found = results(root)
    assert found["thermometer"].status == FAIL
    assert "no DS18B20 thermometer on the 1-Wire bus" in found["thermometer"].detail
    assert "4.7 kOhm pull-up" in found["thermometer"].detail
    assert found["1-Wire bus"].status == PASS and "0 device(s) seen" in found["1-Wire bus"].detail
    assert "fail  thermometer" in out.getvalue()


def test_the_configured_sensor_must_be_the_one_on_the_bus(root):
    config = (REPO / "systemd/config.yaml").read_text().replace("sensor_id: null", "sensor_id: 0316a2790b00")
    state, detail, _ = status(root, "thermometer", config)
    assert state == FAIL and "28-0316a2790b00" in detail and SENSOR in detail


def test_two_sensors_and_no_sensor_id_is_a_failure_that_names_both(root):
    write_bus(root / "sys/bus/w1/devices", {SENSOR: w1_slave(21.5), "28-00000aaaaaaa": w1_slave(22.0)})
    state, detail, _ = status(root, "thermometer")
    assert state == FAIL and "2 DS18B20 thermometers" in detail and "sensor_id" in detail


@pytest.mark.parametrize(("text", "words"), [
    (w1_slave(85.0), "power-on value"),
    (w1_slave(21.5, crc_ok=False), "CRC"),
    (w1_slave(0.0), "0.000 C"),
])
def test_a_sensor_that_lies_fails(root, text, words):
    write_bus(root / "sys/bus/w1/devices", {SENSOR: text})
    state, detail, fix = status(root, "thermometer")
    assert state == FAIL and words in detail and "heater stays off" in fix


def test_water_at_the_ceiling_is_a_warning(root):
    write_bus(root / "sys/bus/w1/devices", {SENSOR: w1_slave(40.5)})
    assert status(root, "thermometer")[0] == WARN


def test_a_config_with_errors_is_one_failed_check_and_the_report_goes_on(root):
    write(root / "etc/footbath/config.yaml", "bath:\n  ceiling_c: 45\n")
    out = io.StringIO()
    assert cmd_doctor_file(None, root=root, out=out) == 1
    text = out.getvalue()
    assert "fail  config" in text and "config.yaml:2:" in text and "bath.ceiling_c" in text
    assert "pass  thermometer" in text and "power" in text  # the other checks still ran


def test_an_explicit_config_path_is_read_as_given(root):
    other = write(root / "elsewhere.yaml", "hardware:\n  simulate: true\n")
    out = io.StringIO()
    cmd_doctor_file(str(other), root=root, out=out)
    assert "warn  config" in out.getvalue() and "hardware.simulate is true" in out.getvalue()


def test_no_config_file_means_the_defaults_and_a_warning(root):
    (root / "etc/footbath/config.yaml").unlink()
    out = io.StringIO()
    cmd_doctor_file(None, root=root, out=out)
    assert "warn  config" in out.getvalue() and "built-in defaults" in out.getvalue()


def test_auto_simulation_off_a_pi_is_a_warning(root):
    (root / "proc/device-tree/model").write_text("Generic x86 PC\0")
    state, detail, _ = status(root, "config")
    assert state == WARN and "would simulate" in detail


def test_a_broken_routine_file_fails_with_its_location(root):
    write(root / "etc/footbath/routines/bad.yaml", LOCAL_ROUTINE.replace("37.5", "45.0").replace(
        "morning", "bad"))
    state, detail, fix = status(root, "routines")
    assert state == FAIL and "bad.yaml:4:" in detail and "soak.target_c" in detail
    assert "footbath routines check" in fix


def test_no_routines_dir_is_a_warning(root):
    shutil.rmtree(root / "etc/footbath/routines")
    state, detail, _ = status(root, "routines")
    assert state == WARN and "only the 4 shipped routines" in detail


# -- a check probe -------------------------------------------------------------------------------

TWO_PROBES = f"hardware:\n  thermometer:\n    sensor_id: {SENSOR}\n    check_sensor_id: {CHECK}\n"


def two_probes(root: Path, main: str, check: str | None) -> None:
    """Both probes on the bus (the check probe left off when None), the config naming both."""
    write_bus(root / "sys/bus/w1/devices", {SENSOR: main, **({CHECK: check} if check else {})})
    write(root / "etc/footbath/config.yaml", TWO_PROBES)


def test_no_check_probe_passes_and_says_it_is_optional(root):
    state, detail, _ = status(root, "check probe")
    assert state == PASS and "none fitted" in detail and "check_sensor_id" in detail


@pytest.mark.parametrize(("main_c", "check_c"), [(21.5, 22.0), (38.0, 37.0), (21.5, 21.5)])
def test_two_probes_that_agree_pass_with_both_temperatures(root, main_c, check_c):
    two_probes(root, w1_slave(main_c), w1_slave(check_c))
    found = results(root)
    assert found["thermometer"].status == PASS and SENSOR in found["thermometer"].detail
    check = found["check probe"]
    assert check.status == PASS, check
    assert f"{CHECK} reads {check_c:.2f} C" in check.detail
    assert f"{abs(main_c - check_c):.2f} C from the main probe {SENSOR} ({main_c:.2f} C)" in check.detail
    assert "agree within 1.0 C" in check.detail
    assert f"check probe {CHECK}" in found["config"].detail


@pytest.mark.parametrize(("main_c", "check_c"), [(21.5, 23.0), (38.0, 36.9375)])
def test_two_probes_more_than_a_degree_apart_fail(root, main_c, check_c):
    two_probes(root, w1_slave(main_c), w1_slave(check_c))
    state, detail, fix = status(root, "check probe")
    assert state == FAIL and "probes_disagree" in detail and "more than the 1.0 C" in detail
    assert "stir the water" in fix and "docs/wiring.md" in fix


def test_a_check_probe_missing_from_the_bus_fails_and_names_its_key(root):
    two_probes(root, w1_slave(21.5), None)
    found = results(root)
    assert found["thermometer"].status == PASS
    check = found["check probe"]
    assert check.status == FAIL and CHECK in check.detail and SENSOR in check.detail
    assert "hardware.thermometer.check_sensor_id" in check.detail
    assert "hardware.thermometer.check_sensor_id" in check.fix


@pytest.mark.parametrize(("text", "words"), [
    (w1_slave(85.0), "power-on value"),
    (w1_slave(21.5, crc_ok=False), "CRC"),
    (w1_slave(0.0), "0.000 C"),
])
def test_a_check_probe_that_lies_fails(root, text, words):
    two_probes(root, w1_slave(21.5), text)
    state, detail, _ = status(root, "check probe")
    assert state == FAIL and CHECK in detail and words in detail


def test_a_check_probe_beside_a_silent_main_probe_is_read_but_not_compared(root):
    two_probes(root, w1_slave(21.5, crc_ok=False), w1_slave(21.5))
    found = results(root)
    assert found["thermometer"].status == FAIL
    check = found["check probe"]
    assert check.status == WARN and f"{CHECK} reads 21.50 C" in check.detail
    assert "not checked" in check.detail and "thermometer check" in check.fix


def test_a_check_probe_at_the_ceiling_warns(root):
    two_probes(root, w1_slave(39.75), w1_slave(40.25))
    found = results(root)
    assert found["thermometer"].status == PASS  # the main probe alone is below it
    check = found["check probe"]
    assert check.status == WARN and "40.0 C ceiling" in check.detail


def test_each_probe_is_read_once_however_many_checks_use_it(root, monkeypatch):
    from hardware.thermometer import Thermometer

    reads = []
    real = Thermometer.read
    monkeypatch.setattr(Thermometer, "read", lambda self: reads.append(self.sensor_id) or real(self))
    two_probes(root, w1_slave(21.5), w1_slave(21.75))
    found = results(root)
    assert found["check probe"].status == PASS
    assert sorted(reads) == sorted([SENSOR, CHECK])


# -- the 1-Wire overlay and the pins ------------------------------------------------------------

@pytest.mark.parametrize(("boot", "state", "pin"), [
    ("dtoverlay=w1-gpio\n", PASS, 4),
    ("dtoverlay=w1-gpio,gpiopin=5\n", PASS, 5),
    ("dtoverlay=w1-gpio-pullup,gpiopin=6,extpullup=16\n", PASS, 6),
    ("dtoverlay=w1-gpio\ndtparam=gpiopin=13\n", PASS, 13),
    ("dtoverlay=w1-gpio\ndtoverlay=vc4-kms-v3d\ndtparam=gpiopin=13\n", PASS, 4),
    ("#dtoverlay=w1-gpio\n", FAIL, 4),
    ("dtoverlay=vc4-kms-v3d\n", FAIL, 4),
    ("[pi4]\ndtoverlay=w1-gpio\n", WARN, 4),
    ("[none]\ndtoverlay=w1-gpio\n", FAIL, 4),
])
def test_the_overlay_is_read_as_the_firmware_reads_it(root, boot, state, pin):
    write(root / "boot/firmware/config.txt", boot)
    assert status(root, "1-Wire overlay")[0] == state
    assert doctor.read_boot_config(root).w1_pin == pin


def test_an_older_release_keeps_config_txt_in_boot(root):
    shutil.rmtree(root / "boot/firmware")
    write(root / "boot/config.txt", "dtoverlay=w1-gpio\n")
    state, detail, _ = status(root, "1-Wire overlay")
    assert state == PASS and str(root / "boot/config.txt") in detail


def test_no_boot_config_fails_with_the_line_to_add(root):
    shutil.rmtree(root / "boot")
    state, _, fix = status(root, "1-Wire overlay")
    assert state == FAIL and "dtoverlay=w1-gpio,gpiopin=4" in fix


def test_a_device_on_the_1wire_pin_is_a_clash(root):
    write(root / "boot/firmware/config.txt", "dtoverlay=w1-gpio,gpiopin=17\n")
    state, detail, _ = status(root, "pins")
    assert state == FAIL and "GPIO 17 is the heater relay" in detail and "1-Wire" in detail


def test_the_default_1wire_pin_clashes_too():
    config = parse_config("hardware:\n  buzzer: {pin: 4}\n", "c")
    ctx = Context(config, Path("/nonexistent"), boot=doctor.BootConfig(None))
    result = doctor.check_pins(ctx)
    assert result.status == FAIL and "GPIO 4 is the buzzer" in result.detail


@pytest.mark.parametrize(("line", "device", "pin"), [
    ("dtparam=i2c_arm=on", "buzzer", 3),
    ("dtparam=spi=on", "pump", 10),
    ("enable_uart=1", "stop_button", 14),
    ("dtparam=i2s=on", "vibration", 18),
])
def test_a_device_on_a_switched_on_interface_is_a_clash(root, line, device, pin):
    write(root / "boot/firmware/config.txt", f"{line}\ndtoverlay=w1-gpio\n")
    state, detail, _ = status(root, "pins", f"hardware:\n  {device}: {{pin: {pin}}}\n")
    assert state == FAIL and f"GPIO {pin}" in detail and line in detail


def every_device_fitted() -> str:
    """The shipped config with its commented-out optional devices fitted."""
    return re.sub(r"(?m)^  # (\w+: \{)", r"  \1", (REPO / "systemd/config.yaml").read_text())


def test_free_pins_pass_and_say_what_could_not_be_checked(root):
    state, detail, _ = status(root, "pins", every_device_fitted())
    assert state == PASS
    for words in ("heater relay 17", "pump relay 27", "vibration motor 18", "buzzer 22", "STOP button 23",
                  "float switch 24", "safety relay 25", "1-Wire on GPIO 4", "not checked"):
        assert words in detail


def test_a_safety_relay_is_checked_like_the_other_outputs(root):
    config = "hardware:\n  safety_relay: {pin: 25}\n"
    state, detail, _ = status(root, "pins", config)
    assert state == PASS and "heater relay 17, safety relay 25" in detail
    assert "safety relay on GPIO 25" in status(root, "config")[1]
    write(root / "boot/firmware/config.txt", "dtoverlay=w1-gpio,gpiopin=25\n")
    state, detail, _ = status(root, "pins")
    assert state == FAIL and "GPIO 25 is the safety relay (hardware.safety_relay.pin)" in detail
    write(root / "boot/firmware/config.txt", "dtparam=i2c_arm=on\ndtoverlay=w1-gpio\n")
    state, detail, _ = status(root, "pins", "hardware:\n  safety_relay: {pin: 3}\n")
    assert state == FAIL and "GPIO 3 is the safety relay and part of the dtparam=i2c_arm=on" in detail


def _ioc(direction: int, number: int, size: int) -> int:
    """Linux's _IOC(): the generic layout used on arm, arm64 and x86."""
    return (direction << 30) | (size << 16) | (0xB4 << 8) | number


def test_the_gpio_ioctls_match_linux_gpio_h():
    # struct gpiochip_info {char name[32]; char label[32]; __u32 lines;}: 68 bytes, read
    assert doctor.GPIO_GET_CHIPINFO_IOCTL == _ioc(2, 0x01, 68) == 0x8044B401
    # struct gpioline_info {__u32 line_offset; __u32 flags; char name[32]; char consumer[32];}: 72
    assert doctor.GPIO_GET_LINEINFO_IOCTL == _ioc(3, 0x02, 72) == 0xC048B402
    chip = b"gpiochip0".ljust(32, b"\0") + b"pinctrl-bcm2711".ljust(32, b"\0") + struct.pack("=I", 58)
    assert doctor.decode_chip_info(chip) == ("gpiochip0", "pinctrl-bcm2711", 58)
    line = struct.pack("=II", 17, 0b11) + b"GPIO17".ljust(32, b"\0") + b"lg".ljust(32, b"\0")
    assert doctor.decode_line_info(line) == doctor.LineInfo(17, True, "GPIO17", "lg")
    free = struct.pack("=II", 4, 0b10) + b"GPIO4".ljust(32, b"\0") + bytes(32)
    assert doctor.decode_line_info(free) == doctor.LineInfo(4, False, "GPIO4", "")


def test_regular_files_are_not_asked_for_line_state(root):
    assert doctor.header_lines(sorted((root / "dev").glob("gpiochip*")), [17]) is None


def answering(monkeypatch, chips: dict[str, tuple[str, dict[int, str]]]) -> None:
    """The files standing in for the chips answer the GPIO ioctls as the kernel would: chip name
    -> (its label, {offset: consumer} for the lines in use); 28 lines each, the rest free."""
    def ioctl(fd: int, request: int, buf: bytes) -> bytes:
        name = Path(f"/proc/self/fd/{fd}").readlink().name
        label, used = chips[name]
        if request == doctor.GPIO_GET_CHIPINFO_IOCTL:
            return doctor.CHIP_INFO.pack(name.encode(), label.encode(), 28)
        assert request == doctor.GPIO_GET_LINEINFO_IOCTL
        offset = doctor.LINE_INFO.unpack(buf)[0]
        consumer = used.get(offset, "")
        return doctor.LINE_INFO.pack(offset, int(bool(consumer)), f"GPIO{offset}".encode(), consumer.encode())

    monkeypatch.setattr(doctor, "_is_chip", lambda path: True)
    monkeypatch.setattr(doctor, "_ioctl", ioctl)


def test_the_header_chip_is_the_pinctrl_one_unless_the_config_names_one(root, monkeypatch):
    answering(monkeypatch, {"gpiochip0": ("pinctrl-bcm2711", {}), "gpiochip1": ("gpio-sim", {17: "gpioset"})})
    chips = sorted((root / "dev").glob("gpiochip*"))
    assert doctor.header_lines(chips, [17]) == {17: doctor.LineInfo(17, False, "GPIO17", "")}
    # hardware.gpio_chip: lgpio opens that chip whatever its label, so that is the one to ask.
    assert doctor.header_lines(chips, [17], chip=1) == {17: doctor.LineInfo(17, True, "GPIO17", "gpioset")}
    assert doctor.header_lines(chips, [17], chip=7) is None


def test_pins_are_asked_of_the_configured_chip(root, monkeypatch):
    # A board (or the system tests' VM) whose header is a chip gpiozero would not choose.
    config = "hardware:\n  pin_factory: lgpio\n  gpio_chip: 1\n  stop_button: {pin: 23}\n"
    answering(monkeypatch, {"gpiochip0": ("pinctrl-bcm2711", {}), "gpiochip1": ("pi", {})})
    state, detail, _ = status(root, "pins", config)
    assert state == PASS
    assert "free or held by the footbath service on gpiochip1 (hardware.gpio_chip)" in detail
    answering(monkeypatch, {"gpiochip0": ("pinctrl-bcm2711", {}), "gpiochip1": ("pi", {23: "gpioset"})})
    state, detail, _ = status(root, "pins", config)
    assert state == FAIL and "GPIO 23 (STOP button) is in use by gpioset" in detail
    # Without the setting, the chip labelled pinctrl-* is asked, as before.
    state, detail, _ = status(root, "pins", "hardware:\n  stop_button: {pin: 23}\n")
    assert state == PASS and "on the header's GPIO chip" in detail


def test_a_configured_chip_that_is_not_there_fails(root):
    state, detail, fix = status(root, "GPIO chips", "hardware:\n  pin_factory: lgpio\n  gpio_chip: 4\n")
    assert state == FAIL and "hardware.gpio_chip is 4, and there is no" in detail
    assert "gpiochip0, gpiochip1" in detail and "gpiodetect" in fix


# -- GPIO chips and the pin factory -----------------------------------------------------------

def gpio_group_owns_the_chips(root: Path) -> None:
    write(root / "etc/group", f"gpio:x:{os.getgid()}:\nfootbath:x:{GPIO_OTHER_GID}:\n")


@pytest.mark.parametrize(("mode", "state"), [(0o660, PASS), (0o600, FAIL), (0o640, FAIL), (0o666, WARN)])
def test_the_chips_must_be_read_write_for_the_gpio_group(root, mode, state):
    gpio_group_owns_the_chips(root)
    (root / "dev/gpiochip1").chmod(mode)
    got, detail, _ = status(root, "GPIO chips")
    assert got == state
    if state == FAIL:
        assert f"gpiochip1 is footbath:gpio {mode:04o}" in detail


def test_chips_of_another_group_fail(root):
    write(root / "etc/group", f"gpio:x:{GPIO_OTHER_GID}:\nstaff:x:{os.getgid()}:\n")
    state, detail, _ = status(root, "GPIO chips")
    assert state == FAIL and ":staff 0660" in detail


def test_no_gpio_group_fails(root):
    write(root / "etc/group", f"footbath:x:{os.getgid()}:\n")
    state, detail, _ = status(root, "GPIO chips")
    assert state == FAIL and "no gpio group" in detail


def test_no_chips_fail(root):
    for chip in (root / "dev").glob("gpiochip*"):
        chip.unlink()
    assert status(root, "GPIO chips")[0] == FAIL


@pytest.mark.parametrize(("factory", "state"), [("mock", WARN), ("rpigpio", WARN), ("native", WARN)])
def test_pin_factories_the_sandbox_does_not_allow_warn(root, factory, state):
    got, detail, _ = status(root, "pin factory", f"hardware:\n  pin_factory: {factory}\n")
    assert got == state and factory in detail


def test_a_check_that_breaks_is_a_failure_not_the_end(root):
    chip = root / "dev/gpiochip0"
    chip.unlink()
    chip.symlink_to(root / "dev/nothing")  # a dangling device link: stat() raises
    found = results(root)
    assert found["GPIO chips"].status == FAIL and "the check itself failed" in found["GPIO chips"].detail
    assert found["power"].status == PASS  # and the report went on


# -- the service, its socket and the journal --------------------------------------------------

def test_the_running_service_answers_and_its_socket_is_0660(root):
    with serving(root):
        found = results(root)
    assert found["service"].status == WARN and "answering: idle" in found["service"].detail
    assert found["socket"].status == PASS and "footbath:footbath 0660" in found["socket"].detail
    assert found["journal"].status == PASS and "0 session(s)" in found["journal"].detail


def test_no_service_fails_twice_with_how_to_start_it(root):
    found = results(root)
    assert found["service"].status == FAIL and "not running" in found["service"].detail
    assert found["socket"].status == FAIL and "systemctl start footbath" in found["socket"].fix


def _socket_file(path: Path, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(path))
    path.chmod(mode)


def test_a_socket_open_to_every_user_fails(root):
    _socket_file(root / "run/footbath/footbath.sock", 0o666)
    state, detail, _ = status(root, "socket")
    assert state == FAIL and "every user on the Pi can drive the heater" in detail


def test_a_socket_the_group_cannot_use_warns(root):
    _socket_file(root / "run/footbath/footbath.sock", 0o600)
    assert status(root, "socket")[0] == WARN


def test_a_file_where_the_socket_should_be_fails(root):
    write(root / "run/footbath/footbath.sock", "")
    state, detail, _ = status(root, "socket")
    assert state == FAIL and "not a socket" in detail


def test_no_journal_yet_is_a_warning(root):
    state, detail, fix = status(root, "journal")
    assert state == WARN and "no state dir" in detail and "first start" in fix


def test_a_journal_the_service_cannot_write_fails(root):
    Journal(root / "var/lib/footbath").close()
    write(root / "etc/passwd", f"someone:x:{os.getuid()}:{os.getgid()}::/:/bin/sh\n"
                               "footbath:x:4321:4321::/:/usr/sbin/nologin\n")
    state, detail, fix = status(root, "journal")
    assert state == FAIL and "cannot write it" in detail and "chown -R footbath:footbath" in fix


def test_a_damaged_journal_fails(root):
    write(root / "var/lib/footbath" / FILE_NAME, "this is not a database" * 100)
    state, detail, _ = status(root, "journal")
    assert state == FAIL and FILE_NAME in detail


def test_the_journal_has_room_to_spare():
    assert doctor.room_status(10 * doctor.MIB) == FAIL
    assert doctor.room_status(doctor.DISK_FAIL_B) == WARN
    assert doctor.room_status(100 * doctor.MIB) == WARN
    assert doctor.room_status(doctor.DISK_WARN_B) == PASS
    assert doctor.room_status(8 * 1024 * doctor.MIB) == PASS


def test_the_journal_check_reports_the_real_free_space(root):
    Journal(root / "var/lib/footbath").close()
    state, detail, _ = status(root, "journal")
    free = shutil.disk_usage(root).free
    assert state == doctor.room_status(free) and "MiB free" in detail


# -- clock, CPU, power, installation ----------------------------------------------------------

def test_an_unsynchronised_clock_warns(root):
    (root / "run/systemd/timesync/synchronized").unlink()
    state, detail, _ = status(root, "clock")
    assert state == WARN and "not synchronised" in detail


@pytest.mark.parametrize(("millidegrees", "state"), [("48312", PASS), ("69999", PASS), ("70000", WARN),
                                                     ("79500", WARN), ("80000", FAIL), ("garbage", WARN)])
def test_the_cpu_temperature(root, millidegrees, state):
    write(root / "sys/class/thermal/thermal_zone0/temp", millidegrees + "\n")
    assert status(root, "CPU temperature")[0] == state


@pytest.mark.parametrize(("value", "state", "words"), [
    ("0", PASS, "no under-voltage"),
    ("0x50000", WARN, "under-voltage since boot, throttled since boot"),
    ("50005", FAIL, "under-voltage now"),
    ("80008", FAIL, "soft temperature limit now"),
])
def test_under_voltage_and_throttling(root, value, state, words):
    write(root / "sys/devices/platform/soc/soc:firmware/get_throttled", value + "\n")
    got, detail, _ = status(root, "power")
    assert got == state and words in detail


def test_no_throttling_file_off_a_pi_is_a_warning(root):
    shutil.rmtree(root / "sys/devices")
    assert status(root, "power")[0] == WARN


def test_units_not_enabled_warn_and_missing_fail(root):
    (root / "etc/systemd/system/multi-user.target.wants/footbath-kiosk.service").unlink()
    state, detail, fix = status(root, "install")
    assert state == WARN and "footbath-kiosk.service does not start at boot" in detail
    assert "systemctl enable footbath-kiosk.service" in fix
    (root / "etc/systemd/system/footbath.service").unlink()
    assert status(root, "install")[0] == FAIL


@pytest.mark.processes
def test_an_installed_tree_from_the_installer_passes_the_install_check(tmp_path):
    subprocess.run(["sh", str(REPO / "systemd/install.sh"), "--root", str(tmp_path), "--python",
                    sys.executable], check=True, capture_output=True, timeout=120)
    ctx = make_context(parse_config((tmp_path / "etc/footbath/config.yaml").read_text(), "c"), tmp_path)
    result = doctor.check_installation(ctx)
    assert result.status == PASS, result


# -- the command line ---------------------------------------------------------------------------

def test_the_root_option(tmp_path):
    parser = argparse.ArgumentParser()
    doctor.add_arguments(parser)
    assert parser.parse_args([]).root == Path("/")
    assert parser.parse_args(["--root", str(tmp_path)]).root == tmp_path


def snapshot(root: Path) -> dict:
    return {p: (p.lstat().st_mode, p.lstat().st_size, p.lstat().st_mtime_ns) for p in root.rglob("*")}


def test_cmd_doctor_prints_every_check_and_a_summary_and_changes_nothing(root):
    out = io.StringIO()
    config = parse_config((root / "etc/footbath/config.yaml").read_text(), "c")
    before = snapshot(root)
    code = cmd_doctor(config, root=root, out=out)
    assert snapshot(root) == before
    lines = out.getvalue().splitlines()
    assert lines[0] == f"footbath doctor: checking {root}"
    named = [line.split()[1] for line in lines if line.startswith(("  pass", "  warn", "  fail"))]
    assert len(named) == len(doctor.CHECKS)
    assert lines[-1] == doctor.summary(run_checks(make_context(config, root)))
    assert code == 1  # the service is not running here
