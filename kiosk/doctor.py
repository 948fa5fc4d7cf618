"""`footbath doctor`: is this Pi ready to run the bath? Each check passes, warns or fails, and
says what to do about it.

Every file is read under `root` (default /), so the same checks run on a mounted SD card and,
in the tests, on fake sysfs trees; commands (timedatectl, vcgencmd) run only when root is /.
Nothing here drives an output or claims a pin: each thermometer is read once, the GPIO lines are
only looked at, the service is asked for its status.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
import struct
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field, replace
from importlib import util
from pathlib import Path
from typing import TYPE_CHECKING

from hardware.devices import DEVICES, LABELS
from routines import LOCAL, load_library

from .client import Client
from .config import DEFAULT_PATH, ENV_VAR, Config, load_config
from .errors import ConfigError, KioskError

if TYPE_CHECKING:
    from hardware.reading import Reading

PASS, WARN, FAIL = "pass", "warn", "fail"
DESCRIPTION = ("Check that this Pi is ready to run the bath: the 1-Wire overlay, bus and thermometer "
               "(and the check probe, when one is fitted: that the two agree), the GPIO chips, pin "
               "factory and pins (the safety relay's too), the config and routines, the service and its "
               "socket, the journal and its disk, the clock, the CPU temperature and the power "
               "supply. Each check says pass, warn or fail, with the fix. Exit status: 0 when "
               "nothing failed (warnings allowed), 1 when a check failed.")

SERVICE_USER = "footbath"
GPIO_GROUP = "gpio"
UNITS = ("footbath.service", "footbath-kiosk.service")
W1_OVERLAYS = ("w1-gpio", "w1-gpio-pullup")
W1_DEFAULT_PIN = 4  # the overlay's gpiopin when none is given
BOOT_CONFIGS = ("boot/firmware/config.txt", "boot/config.txt")  # Bookworm, then older releases
# Header pins taken by interfaces switched on in config.txt.
INTERFACE_PINS = {
    "i2c_arm": (2, 3),
    "spi": (7, 8, 9, 10, 11),
    "uart": (14, 15),
    "i2s": (18, 19, 20, 21),
}
INTERFACE_LINES = {"i2c_arm": "dtparam=i2c_arm=on", "spi": "dtparam=spi=on", "uart": "enable_uart=1",
                   "i2s": "dtparam=i2s=on"}
PROBES_AGREE_C = 1.0  # the supervisor's rule: a main and a check probe this far apart disagree
MIB = 1024 * 1024
DISK_FAIL_B, DISK_WARN_B = 32 * MIB, 256 * MIB  # a session adds kilobytes: the room is for the OS
CPU_WARN_C, CPU_FAIL_C = 70.0, 80.0  # the firmware throttles the CPU from 80 C
THROTTLED = ((0, "under-voltage now"), (1, "CPU frequency capped now"), (2, "throttled now"),
             (3, "soft temperature limit now"), (16, "under-voltage since boot"),
             (17, "frequency capped since boot"), (18, "throttled since boot"),
             (19, "soft temperature limit since boot"))
COMMAND_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Result:
    name: str
    status: str  # PASS, WARN or FAIL
    detail: str  # what was found
    fix: str = ""  # what to do; empty when there is nothing to do


# -- config.txt ------------------------------------------------------------------------------

@dataclass(frozen=True)
class BootConfig:
    """What config.txt says about the 1-Wire bus and the interfaces that take header pins."""

    path: Path | None  # None when there is no config.txt
    w1_line: str | None = None  # the dtoverlay=w1-gpio line as written
    w1_pin: int = W1_DEFAULT_PIN
    w1_section: str = "all"  # the [filter] it sits under
    interfaces: frozenset[str] = frozenset()


def _params(text: str) -> dict[str, str]:
    params = {}
    for item in text.split(","):
        key, _, value = item.strip().partition("=")
        if key:
            params[key] = value.strip()
    return params


def parse_boot_config(text: str, path: Path | None = None) -> BootConfig:
    """Read config.txt as the firmware does: dtparam= after a dtoverlay= sets that overlay's
    parameters, before any overlay the base device tree's; [filters] only apply on some boards."""
    section, overlay = "all", None
    w1_line, w1_pin, w1_section = None, W1_DEFAULT_PIN, "all"
    interfaces: set[str] = set()
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip().lower() or "all"
            continue
        key, _, value = line.partition("=")
        key = key.strip().lower()
        if key == "dtoverlay":
            name, _, rest = value.partition(",")
            overlay = name.strip() or None
            if overlay in W1_OVERLAYS and w1_line is None:
                w1_line, w1_section = line, section
                w1_pin = _pin_param(_params(rest), w1_pin)
            continue
        if key == "dtparam":
            params = _params(value)
            if overlay in W1_OVERLAYS and w1_line is not None:
                w1_pin = _pin_param(params, w1_pin)
            # Taken as switched on wherever they stand: a clash is worth a look either way.
            on = {name for name, v in params.items() if v.lower() in ("on", "1", "true", "yes", "")}
            interfaces |= on & {"i2c_arm", "spi", "i2s"}
            if "i2c" in on:
                interfaces.add("i2c_arm")
        elif key == "enable_uart" and value.strip() == "1":
            interfaces.add("uart")
    return BootConfig(path, w1_line, w1_pin, w1_section, frozenset(interfaces))


def _pin_param(params: dict[str, str], current: int) -> int:
    try:
        return int(params["gpiopin"], 0)
    except (KeyError, ValueError):
        return current


# -- GPIO character device (linux/gpio.h, v1 ABI) ----------------------------------------------

GPIO_GET_CHIPINFO_IOCTL = 0x8044B401  # _IOR(0xB4, 0x01, struct gpiochip_info)
GPIO_GET_LINEINFO_IOCTL = 0xC048B402  # _IOWR(0xB4, 0x02, struct gpioline_info)
GPIOLINE_FLAG_KERNEL = 1 << 0  # the line is in use (by a driver or a program)
CHIP_INFO = struct.Struct("32s32sI")  # name, label, lines
LINE_INFO = struct.Struct("II32s32s")  # line_offset, flags, name, consumer
LGPIO_CONSUMER = "lg"  # lgpio's label on the lines it claims (gpiozero's default pin factory)


@dataclass(frozen=True)
class LineInfo:
    offset: int
    used: bool
    name: str
    consumer: str


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode(errors="replace")


def decode_chip_info(buf: bytes) -> tuple[str, str, int]:
    name, label, lines = CHIP_INFO.unpack(buf)
    return _text(name), _text(label), lines


def decode_line_info(buf: bytes) -> LineInfo:
    offset, flags, name, consumer = LINE_INFO.unpack(buf)
    return LineInfo(offset, bool(flags & GPIOLINE_FLAG_KERNEL), _text(name), _text(consumer))


def _is_chip(path: Path) -> bool:
    return stat.S_ISCHR(path.stat().st_mode)


_ioctl = fcntl.ioctl  # the tests answer for a chip through this


def header_lines(chips: list[Path], offsets: list[int],
                 chip: int | None = None) -> dict[int, LineInfo] | None:
    """Who uses each header pin, asked of the kernel; None when no chip can be asked (not a
    character device, or not readable). The header's chip is /dev/gpiochipCHIP when the config
    names one (hardware.gpio_chip: lgpio opens that one, whatever its label), else the chip
    labelled pinctrl-* (bcm2835, bcm2711 or rp1), as gpiozero chooses it."""
    for path in chips:
        if chip is not None and path.name != f"gpiochip{chip}":
            continue
        try:
            if not _is_chip(path):
                continue
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            info = _ioctl(fd, GPIO_GET_CHIPINFO_IOCTL, bytes(CHIP_INFO.size))
            _, label, lines = decode_chip_info(info)
            if chip is None and not label.startswith("pinctrl-"):
                continue
            found = {}
            for offset in offsets:
                if offset < lines:
                    request = LINE_INFO.pack(offset, 0, b"", b"")
                    found[offset] = decode_line_info(_ioctl(fd, GPIO_GET_LINEINFO_IOCTL, request))
            return found
        except OSError:
            continue
        finally:
            os.close(fd)
    return None


# -- what the checks share -------------------------------------------------------------------

@dataclass(frozen=True)
class Context:
    config: Config
    root: Path
    config_problem: str | None = None
    boot: BootConfig = field(default_factory=lambda: BootConfig(None))
    status: dict | None = None  # the service's answer to "status"
    service_error: str | None = None  # why there is none
    # Each probe's one read, kept for the checks that compare them: config key -> Probe.
    probes: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def live(self) -> bool:
        """Checking the running system (commands may be run), not a tree under a directory."""
        return self.root.resolve() == Path("/")

    def path(self, path: str | os.PathLike) -> Path:
        """`path` (absolute, as configured or as on a Pi) inside the tree being checked."""
        path = Path(path)
        return self.root / path.relative_to("/") if path.is_absolute() else self.root / path


def _names(path: Path) -> dict[int, str]:
    """id -> name from a passwd or group file."""
    names = {}
    with contextlib.suppress(OSError):
        for line in path.read_text(errors="replace").splitlines():
            parts = line.split(":")
            if len(parts) >= 3 and parts[2].isdigit():
                names.setdefault(int(parts[2]), parts[0])
    return names


def _members(ctx: Context, group: str) -> list[str] | None:
    with contextlib.suppress(OSError):
        for line in ctx.path("/etc/group").read_text(errors="replace").splitlines():
            parts = line.split(":")
            if len(parts) >= 4 and parts[0] == group:
                return [m for m in parts[3].split(",") if m]
    return None


def _groups_of(ctx: Context, user: str) -> set[str]:
    found = set()
    with contextlib.suppress(OSError):
        for line in ctx.path("/etc/group").read_text(errors="replace").splitlines():
            parts = line.split(":")
            if len(parts) >= 4 and user in parts[3].split(","):
                found.add(parts[0])
    return found


def _owner(ctx: Context, st: os.stat_result) -> tuple[str, str]:
    users, groups = _names(ctx.path("/etc/passwd")), _names(ctx.path("/etc/group"))
    return users.get(st.st_uid, str(st.st_uid)), groups.get(st.st_gid, str(st.st_gid))


def _run(command: list[str]) -> str | None:
    """A command's output, or None when it is missing or fails."""
    if shutil.which(command[0]) is None:
        return None
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _devices(config: Config) -> dict[str, int]:
    hw = config.hardware
    return {name: device.pin for name in DEVICES if (device := getattr(hw, name)) is not None}


@dataclass(frozen=True)
class Probe:
    """One DS18B20 as the doctor found it: opened and read, or why it could not be opened."""

    key: str  # its config key: sensor_id or check_sensor_id
    sensor_id: str | None = None  # the 28-... name, once found on the bus
    reading: Reading | None = None  # its one read, once found
    problem: str = ""  # why it was not found


def _probe(ctx: Context, key: str) -> Probe:
    """The probe named by hardware.thermometer.KEY, opened and read once per doctor run."""
    if key in ctx.probes:
        return ctx.probes[key]
    from hardware.errors import HardwareError
    from hardware.thermometer import Thermometer

    t = ctx.config.hardware.thermometer
    try:
        thermometer = Thermometer(sensor_id=getattr(t, key), devices_dir=ctx.path(t.devices_dir))
    except HardwareError as exc:
        # The adapter's messages name the main probe's key; this one may be the check probe.
        probe = Probe(key, problem=str(exc).replace("hardware.thermometer.sensor_id",
                                                    f"hardware.thermometer.{key}"))
    else:
        probe = Probe(key, thermometer.sensor_id, thermometer.read())
    ctx.probes[key] = probe
    return probe


# -- the checks ------------------------------------------------------------------------------

def check_config(ctx: Context) -> Result:
    config = ctx.config
    if ctx.config_problem:
        return Result("config", FAIL, f"the config file has errors:\n{ctx.config_problem}",
                      "fix each line shown, then run `footbath config check`")
    where = config.file or "the built-in defaults (no config file)"
    hw = config.hardware
    summary = (f"ceiling {config.bath.ceiling_c:.1f} C, {config.bath.heater_w:g} W heater in "
               f"{config.bath.litres:g} L, heater relay on GPIO {hw.heater.pin}")
    if hw.safety_relay is not None:
        summary += f", safety relay on GPIO {hw.safety_relay.pin}"
    if hw.thermometer.check_sensor_id is not None:
        summary += f", check probe 28-{hw.thermometer.check_sensor_id}"
    if config.hardware.simulate is True:
        return Result("config", WARN, f"{where}: hardware.simulate is true: the service runs a simulated "
                                      "bath and never drives the heater",
                      "set hardware.simulate: auto (or false) in the config on the Pi")
    if config.hardware.simulate == "auto" and not _on_a_pi_with_bus(ctx):
        return Result("config", WARN, f"{where}: hardware.simulate is auto, and this is not a Raspberry "
                                      "Pi with a 1-Wire bus: the service would simulate the bath",
                      "on the Pi, load the 1-Wire overlay (see the 1-Wire checks below)")
    if config.file is None:
        return Result("config", WARN, f"{where} ({summary})",
                      f"the installer writes a commented {DEFAULT_PATH}: run systemd/install.sh")
    return Result("config", PASS, f"{where} is valid: {summary}")


def _on_a_pi_with_bus(ctx: Context) -> bool:
    """What the service's simulate: auto looks at (kiosk.service.should_simulate), under root."""
    try:
        model = ctx.path("/proc/device-tree/model").read_text(errors="replace")
    except OSError:
        return False
    return "Raspberry Pi" in model and ctx.path(ctx.config.hardware.thermometer.devices_dir).is_dir()


def check_routines(ctx: Context) -> Result:
    folder = ctx.path(ctx.config.paths.routines_dir)
    library = load_library(folder, ceiling_c=ctx.config.bath.ceiling_c)
    local = sum(1 for entry in library if entry.source == LOCAL)
    if library.problems:
        shown = "\n".join(str(p) for p in library.problems[:5])
        more = len(library.problems) - 5
        return Result("routines", FAIL, f"{len(library.problems)} problem(s) in the routine files (those "
                                        f"files are not offered):\n{shown}"
                                        + (f"\n... and {more} more" if more > 0 else ""),
                      "fix them with `footbath routines edit ID`, or check a file with "
                      "`footbath routines check FILE`")
    if not folder.is_dir():
        return Result("routines", WARN, f"no routines dir {folder}: only the {len(library.entries)} shipped "
                                        "routines are offered",
                      f"create it for the staff's routines: sudo install -d -m 2775 -g footbath "
                      f"{ctx.config.paths.routines_dir}")
    return Result("routines", PASS, f"{len(library.entries)} routines on offer ({local} from {folder})")


def check_w1_overlay(ctx: Context) -> Result:
    boot = ctx.boot
    line = f"dtoverlay=w1-gpio,gpiopin={W1_DEFAULT_PIN}"
    if boot.path is None:
        return Result("1-Wire overlay", FAIL, f"no config.txt in {ctx.path('/boot/firmware')}: not Raspberry "
                                              "Pi OS, or the boot partition is not mounted",
                      f"on Raspberry Pi OS add `{line}` to /boot/firmware/config.txt and reboot")
    if boot.w1_line is None:
        return Result("1-Wire overlay", FAIL, f"{boot.path} does not load the 1-Wire overlay",
                      f"add `{line}` at the end of it (under [all]) and reboot; the probe's data wire "
                      f"goes to GPIO {W1_DEFAULT_PIN}, with a 4.7 kOhm pull-up to 3.3 V")
    if boot.w1_section == "none":
        return Result("1-Wire overlay", FAIL, f"{boot.path}: `{boot.w1_line}` is under [none], which the "
                                              "firmware ignores",
                      "move it under [all] at the end of the file and reboot")
    if boot.w1_section != "all":
        return Result("1-Wire overlay", WARN, f"{boot.path}: `{boot.w1_line}` is under [{boot.w1_section}], "
                                              "so it only applies on some boards",
                      "move it under [all] at the end of the file and reboot")
    return Result("1-Wire overlay", PASS, f"{boot.path}: {boot.w1_line} (data on GPIO {boot.w1_pin})")


def check_w1_bus(ctx: Context) -> Result:
    devices = ctx.path(ctx.config.hardware.thermometer.devices_dir)
    if not devices.is_dir():
        return Result("1-Wire bus", FAIL, f"no 1-Wire bus: {devices} is missing",
                      "the overlay loads at boot: reboot after adding it to config.txt, then look at "
                      "`dmesg | grep -i w1`")
    masters = sorted(p.name for p in devices.glob("w1_bus_master*"))
    if not masters:
        return Result("1-Wire bus", FAIL, f"{devices} has no w1_bus_master: the 1-Wire driver did not start",
                      "check the dtoverlay=w1-gpio line in config.txt and reboot")
    seen = ""
    with contextlib.suppress(OSError):
        count = (devices / masters[0] / "w1_master_slave_count").read_text().strip()
        seen = f", {count} device(s) seen"
    if not ctx.path("/sys/module/w1_therm").is_dir():
        return Result("1-Wire bus", WARN, f"{', '.join(masters)}{seen}; the w1_therm driver is not "
                                          "loaded, so no thermometer can be read",
                      "it loads by itself when a DS18B20 answers: check the probe's wiring; or load it "
                      "with `sudo modprobe w1-therm`")
    return Result("1-Wire bus", PASS, f"{', '.join(masters)}{seen}; w1_therm loaded")


def check_thermometer(ctx: Context) -> Result:
    probe = _probe(ctx, "sensor_id")
    if probe.problem:
        return Result("thermometer", FAIL, probe.problem,
                      "fix the wiring or hardware.thermometer.sensor_id, then run the doctor again")
    reading = probe.reading
    if not reading.ok:
        raw = "" if reading.raw_c is None else f" (it said {reading.raw_c:g} C)"
        return Result("thermometer", FAIL,
                      f"{probe.sensor_id}: no valid reading{raw}: {reading.message}",
                      "the heater stays off while this lasts; check the probe, then run the doctor again")
    ceiling_c = ctx.config.bath.ceiling_c
    if reading.water_c >= ceiling_c:
        return Result("thermometer", WARN, f"{probe.sensor_id} reads {reading.water_c:.1f} C, at or "
                                           f"above the {ceiling_c:.1f} C ceiling",
                      "let the water cool; if it is not that hot, the probe is near something warm")
    return Result("thermometer", PASS, f"{probe.sensor_id} reads {reading.water_c:.2f} C")


def check_check_probe(ctx: Context) -> Result:
    """The second DS18B20 (hardware.thermometer.check_sensor_id), read like the main one, and
    whether the two agree as the supervisor wants them to."""
    name = "check probe"
    if ctx.config.hardware.thermometer.check_sensor_id is None:
        return Result(name, PASS, "none fitted (optional: hardware.thermometer.check_sensor_id, a second "
                                  "DS18B20 in the water; see docs/wiring.md)")
    probe = _probe(ctx, "check_sensor_id")
    if probe.problem:
        return Result(name, FAIL, probe.problem,
                      "fix its wiring (the same three wires and pull-up as the main probe) or "
                      "hardware.thermometer.check_sensor_id, then run the doctor again")
    reading = probe.reading
    if not reading.ok:
        raw = "" if reading.raw_c is None else f" (it said {reading.raw_c:g} C)"
        return Result(name, FAIL, f"{probe.sensor_id}: no valid reading{raw}: {reading.message}",
                      "check the second probe's plug and wires (on the same bus as the main probe), "
                      "then run the doctor again")
    found = f"{probe.sensor_id} reads {reading.water_c:.2f} C"
    main = _probe(ctx, "sensor_id")
    if main.sensor_id == probe.sensor_id:
        return Result(name, FAIL, f"{found}, but that is the main probe itself: the two ids name one "
                                  "DS18B20", "set hardware.thermometer.sensor_id and check_sensor_id to "
                                             "the two probes' ids (the 28-... names in "
                                             "/sys/bus/w1/devices)")
    compared = not main.problem and main.reading.ok
    if compared:
        apart_c = abs(reading.water_c - main.reading.water_c)
        found += (f", {apart_c:.2f} C from the main probe {main.sensor_id} "
                  f"({main.reading.water_c:.2f} C)")
        if apart_c > PROBES_AGREE_C:
            return Result(name, FAIL, f"{found}: more than the {PROBES_AGREE_C:.1f} C they may differ "
                                      "by; 30 s of this during a session is a fault (probes_disagree)",
                          "stir the water and run the doctor again; if they still disagree, one probe "
                          "is out of the water, near the heater, or failing: see docs/wiring.md")
    ceiling_c = ctx.config.bath.ceiling_c
    if reading.water_c >= ceiling_c:
        return Result(name, WARN, f"{found}; at or above the {ceiling_c:.1f} C ceiling (the higher "
                                  "probe is the one the ceiling is judged by)",
                      "let the water cool; if it is not that hot, the probe is near something warm")
    if not compared:
        return Result(name, WARN, f"{found}; whether it agrees with the main probe was not checked: the "
                                  "main probe has no valid reading",
                      "see the thermometer check above")
    return Result(name, PASS, f"{found}: they agree within {PROBES_AGREE_C:.1f} C")


def _chips(ctx: Context) -> list[Path]:
    return sorted(ctx.path("/dev").glob("gpiochip*"), key=lambda p: (len(p.name), p.name))


def check_gpio(ctx: Context) -> Result:
    chips = _chips(ctx)
    if not chips:
        return Result("GPIO chips", FAIL, f"no {ctx.path('/dev')}/gpiochip*: not a Raspberry Pi, or a kernel "
                                          "without the GPIO character device",
                      "run footbath on Raspberry Pi OS (Bookworm)")
    if _members(ctx, GPIO_GROUP) is None:
        return Result("GPIO chips", FAIL, f"there is no {GPIO_GROUP} group, which the service needs for "
                                          "the GPIO chips",
                      "run systemd/install.sh again: it makes the group and a udev rule that gives "
                      "/dev/gpiochip* to it")
    chip = ctx.config.hardware.gpio_chip
    if chip is not None and not any(c.name == f"gpiochip{chip}" for c in chips):
        return Result("GPIO chips", FAIL, f"hardware.gpio_chip is {chip}, and there is no "
                                          f"{ctx.path('/dev')}/gpiochip{chip} (there are "
                                          f"{', '.join(c.name for c in chips)}): the service cannot start",
                      "`gpiodetect` names the chips: set hardware.gpio_chip to the header's (pinctrl-...), "
                      "or remove it to let gpiozero choose; see docs/wiring.md")
    # The service's groups: gpio from its unit, its own, and any it is a member of.
    groups = {GPIO_GROUP, SERVICE_USER} | _groups_of(ctx, SERVICE_USER)
    bad, open_to_all, via = [], [], set()
    for chip in chips:
        st = chip.stat()
        user, group = _owner(ctx, st)
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o006 == 0o006:
            open_to_all.append(chip.name)
        elif group in groups and mode & 0o060 == 0o060:
            via.add(group)
        else:
            bad.append(f"{chip.name} is {user}:{group} {mode:04o}")
    if bad:
        return Result("GPIO chips", FAIL, f"the service (groups {', '.join(sorted(groups))}) cannot open: "
                                          f"{'; '.join(bad)}",
                      f"the chips must be group {GPIO_GROUP}, mode 0660: systemd/install.sh's udev rule "
                      "(/etc/udev/rules.d/90-footbath-gpio.rules) does that, as Raspberry Pi OS's does; "
                      "run the installer again, or check /etc/udev/rules.d and /usr/lib/udev/rules.d")
    if open_to_all:
        return Result("GPIO chips", WARN, f"{', '.join(open_to_all)} can be written by every user, so any "
                                          "program on the Pi could switch the heater",
                      f"give them to group {GPIO_GROUP} with mode 0660 (a udev rule)")
    names = ", ".join(c.name for c in chips)
    return Result("GPIO chips", PASS, f"{names}: read-write for group {', '.join(sorted(via))}, which the "
                                      "service is in")


def check_pin_factory(ctx: Context) -> Result:
    factory = ctx.config.hardware.pin_factory
    if factory == "mock":
        return Result("pin factory", WARN, "hardware.pin_factory is mock: the service drives mock pins, "
                                           "never the relays",
                      "remove hardware.pin_factory from the config on the Pi")
    if factory in ("rpigpio", "native", "pigpio"):
        return Result("pin factory", WARN, f"hardware.pin_factory is {factory}: the service's sandbox "
                                           "only allows the GPIO chips (/dev/gpiochip*), which lgpio uses",
                      "remove hardware.pin_factory (lgpio is the default) or set it to lgpio")
    if util.find_spec("lgpio") is None:  # looked up, not imported: lgpio makes files on import
        return Result("pin factory", FAIL, "lgpio, gpiozero's pin factory for the GPIO chips, is not "
                                           f"installed for {sys.executable}",
                      "install footbath with the pi extra: run systemd/install.sh again")
    return Result("pin factory", PASS, f"lgpio ({'the default' if factory is None else 'configured'})")


def check_pins(ctx: Context) -> Result:
    pins = _devices(ctx.config)
    boot = ctx.boot
    problems: list[str] = []
    w1_pin = boot.w1_pin
    for name, pin in pins.items():
        if pin == w1_pin:
            where = f"`{boot.w1_line}`" if boot.w1_line else f"the 1-Wire overlay's default, GPIO {w1_pin}"
            problems.append(f"GPIO {pin} is the {LABELS[name]} (hardware.{name}.pin) and the 1-Wire bus "
                            f"({where})")
        for interface, taken in sorted(INTERFACE_PINS.items()):
            if interface in boot.interfaces and pin in taken:
                problems.append(f"GPIO {pin} is the {LABELS[name]} and part of the "
                                f"{INTERFACE_LINES[interface]} interface in config.txt")
    chip = ctx.config.hardware.gpio_chip
    lines = header_lines(_chips(ctx), sorted(pins.values()), chip)
    ours = ctx.status is not None  # the running service holds our pins: that is them in use
    where_asked = "the header's GPIO chip" if chip is None else f"gpiochip{chip} (hardware.gpio_chip)"
    if lines is not None:
        for name, pin in pins.items():
            info = lines.get(pin)
            if info is None:
                problems.append(f"GPIO {pin} ({LABELS[name]}) is not on {where_asked}")
            elif info.used and not (ours and info.consumer == LGPIO_CONSUMER):
                who = info.consumer or "another program"
                problems.append(f"GPIO {pin} ({LABELS[name]}) is in use by {who}")
    listed = ", ".join(f"{LABELS[n]} {p}" for n, p in pins.items())
    if problems:
        return Result("pins", FAIL, "; ".join(problems),
                      "give each device a free pin in the config (hardware.NAME.pin) and wire it there, "
                      "or switch the other user off in config.txt; see docs/wiring.md")
    state = (f"free or held by the footbath service on {where_asked}" if lines is not None
             else "(whether they are in use was not checked: no GPIO character device to ask)")
    return Result("pins", PASS, f"{listed}; 1-Wire on GPIO {w1_pin}; {state}")


def check_service(ctx: Context) -> Result:
    status = ctx.status
    if status is None:
        return Result("service", FAIL, ctx.service_error or "the service did not answer",
                      "start it: sudo systemctl start footbath; if it does not stay up, read "
                      "`journalctl -u footbath -n 50`")
    water = "no valid reading" if status.get("water_c") is None else f"{status['water_c']:.1f} C"
    detail = (f"answering: {status.get('phase')}, water {water}, heater "
              f"{'on' if status.get('heater') else 'off'}")
    faults = status.get("faults") or []
    if faults:
        return Result("service", WARN, detail + "; faults: " + "; ".join(
            f"{f.get('code')}: {f.get('message')}" for f in faults),
                      "deal with the cause, then acknowledge the fault on the staff screen")
    if status.get("simulated"):
        return Result("service", WARN, detail + "; it runs a SIMULATED bath",
                      "on the Pi, set hardware.simulate: auto or false and check the 1-Wire bus")
    if status.get("journal_error"):
        return Result("service", WARN, f"{detail}; {status['journal_error']}", "see the journal check below")
    return Result("service", PASS, detail)


def check_socket(ctx: Context) -> Result:
    sock = ctx.path(ctx.config.paths.socket)
    try:
        st = sock.lstat()
    except OSError:
        return Result("socket", FAIL, f"no socket at {sock}: the service is not running",
                      "start it: sudo systemctl start footbath")
    if not stat.S_ISSOCK(st.st_mode):
        return Result("socket", FAIL, f"{sock} is not a socket", "remove it and restart the service")
    mode = stat.S_IMODE(st.st_mode)
    user, group = _owner(ctx, st)
    found = f"{sock}: {user}:{group} {mode:04o}"
    if mode & 0o007:
        return Result("socket", FAIL, f"{found}: every user on the Pi can drive the heater through it",
                      "the service makes it 0660: run it under systemd (footbath.service), not by hand")
    if group != SERVICE_USER or mode & 0o060 != 0o060:
        return Result("socket", WARN, f"{found}: staff and the kiosk reach it through the "
                                      f"{SERVICE_USER} group, which cannot use it",
                      "run the service under systemd (footbath.service)")
    if ctx.live and not os.access(sock, os.R_OK | os.W_OK):
        me = _names(ctx.path("/etc/passwd")).get(os.getuid(), str(os.getuid()))
        return Result("socket", WARN, f"{found}; you ({me}) are not in the {SERVICE_USER} group",
                      f"sudo adduser {me} {SERVICE_USER}, then log in again")
    return Result("socket", PASS, found)


def room_status(free_b: int) -> str:
    """How the free space on the journal's disk rates."""
    if free_b < DISK_FAIL_B:
        return FAIL
    return WARN if free_b < DISK_WARN_B else PASS


def check_journal(ctx: Context) -> Result:
    from .journal import FILE_NAME, Journal

    folder = ctx.path(ctx.config.paths.state_dir)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    free_b = shutil.disk_usage(existing).free
    room = f"{free_b / MIB:,.0f} MiB free"
    space = room_status(free_b)
    space_fix = (f"only {room} on the card: delete old files (`sudo journalctl --vacuum-size=50M`, "
                 f"`sudo apt clean`), or lower journal.keep_days")
    path = folder / FILE_NAME
    if not path.exists():
        missing = f"no state dir {folder}" if not folder.is_dir() else f"no journal in {folder}"
        if space == FAIL:
            return Result("journal", FAIL, f"{missing} yet; {room}", space_fix)
        return Result("journal", WARN, f"{missing} yet; {room}",
                      "the service makes it at its first start: sudo systemctl start footbath")
    st = path.stat()
    user, group = _owner(ctx, st)
    writable = (user == SERVICE_USER and st.st_mode & stat.S_IWUSR) or (ctx.live and os.access(path, os.W_OK))
    if not writable:
        return Result("journal", FAIL, f"{path} is {user}:{group} {stat.S_IMODE(st.st_mode):04o}: the "
                                       f"service (user {SERVICE_USER}) cannot write it",
                      f"sudo chown -R {SERVICE_USER}:{SERVICE_USER} {ctx.config.paths.state_dir}")
    try:
        journal = Journal(folder, readonly=True)
        try:
            sessions = len(journal.sessions())
        finally:
            journal.db.close()
    except (KioskError, OSError) as exc:
        return Result("journal", FAIL, f"{path}: {exc}", "see the message; the service reports the journal "
                                                         "in `footbath status` too")
    except Exception as exc:  # sqlite3 errors from a damaged file
        return Result("journal", FAIL, f"{path} cannot be read: {exc}",
                      "stop the service, move the file aside and start the service (a new journal is made)")
    detail = f"{path}: {sessions} session(s), {st.st_size / MIB:.1f} MiB; {room}"
    if space != PASS:
        return Result("journal", space, detail, space_fix)
    return Result("journal", PASS, detail)


def check_clock(ctx: Context) -> Result:
    flag = ctx.path("/run/systemd/timesync/synchronized")
    if flag.exists():
        return Result("clock", PASS, "synchronised (systemd-timesyncd)")
    if ctx.live and _run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"]) == "yes":
        return Result("clock", PASS, "synchronised (timedatectl)")
    return Result("clock", WARN, "the clock is not synchronised: the journal's times may be wrong "
                                 "(a Pi without network keeps no time over a power cut)",
                  "connect the Pi to a network with internet; check `timedatectl timesync-status`")


def check_cpu_temperature(ctx: Context) -> Result:
    path = ctx.path("/sys/class/thermal/thermal_zone0/temp")
    try:
        cpu_c = int(path.read_text().strip()) / 1000.0
    except (OSError, ValueError):
        return Result("CPU temperature", WARN, f"cannot read {path}", "check that this is a Raspberry Pi")
    detail = f"{cpu_c:.1f} C"
    fix = ("give the Pi air: a heatsink or a fan case, away from the heater and the warm basin")
    if cpu_c >= CPU_FAIL_C:
        return Result("CPU temperature", FAIL, f"{detail}: the Pi slows itself down from 80 C", fix)
    if cpu_c >= CPU_WARN_C:
        return Result("CPU temperature", WARN, f"{detail}: close to the 80 C where the Pi slows down", fix)
    return Result("CPU temperature", PASS, detail)


def decode_throttled(value: int) -> list[str]:
    return [text for bit, text in THROTTLED if value & (1 << bit)]


def check_power(ctx: Context) -> Result:
    value = None
    source = ""
    for path in sorted(ctx.path("/sys/devices/platform").glob("*/*firmware/get_throttled")):
        with contextlib.suppress(OSError, ValueError):
            value, source = int(path.read_text().strip(), 16), str(path)
            break
    if value is None and ctx.live:
        out = _run(["vcgencmd", "get_throttled"])
        if out and out.startswith("throttled="):
            with contextlib.suppress(ValueError):
                value, source = int(out.partition("=")[2], 16), "vcgencmd get_throttled"
    if value is None:
        return Result("power", WARN, "cannot tell whether the Pi is throttled (no get_throttled here)",
                      "check that this is a Raspberry Pi")
    flags = decode_throttled(value)
    fix = ("use the official power supply (5.1 V; 3 A for a Pi 4, 5 A for a Pi 5) and a short cable; "
           "an under-powered Pi corrupts its SD card")
    if value & 0xF:
        return Result("power", FAIL, f"{', '.join(flags)} (0x{value:x}, {source})", fix)
    if value:
        return Result("power", WARN, f"{', '.join(flags)} (0x{value:x}, {source})", fix)
    return Result("power", PASS, f"no under-voltage or throttling since boot ({source})")


def check_installation(ctx: Context) -> Result:
    units = ctx.path("/etc/systemd/system")
    vendor = ctx.path("/usr/lib/systemd/system")
    missing = [u for u in UNITS if not (units / u).exists() and not (vendor / u).exists()]
    if UNITS[0] in missing:
        return Result("install", FAIL, f"{UNITS[0]} is not installed in {units}",
                      "install footbath: sudo sh systemd/install.sh")
    if SERVICE_USER not in _names(ctx.path("/etc/passwd")).values():
        return Result("install", FAIL, f"there is no {SERVICE_USER} user", "run systemd/install.sh again")
    wants = units / "multi-user.target.wants"
    # The links point at /etc/...: inside a tree under root, only the link itself is there.
    disabled = [u for u in UNITS if u not in missing and not os.path.lexists(wants / u)]
    if missing or disabled:
        parts = [f"{u} is missing" for u in missing] + [f"{u} does not start at boot" for u in disabled]
        return Result("install", WARN, "; ".join(parts), "run systemd/install.sh again, or sudo "
                                                         "systemctl enable " + " ".join(disabled or missing))
    return Result("install", PASS, f"{' and '.join(UNITS)} enabled; user {SERVICE_USER}")


CHECKS = (  # (name, check), in the order they are shown
    ("install", check_installation), ("config", check_config), ("routines", check_routines),
    ("1-Wire overlay", check_w1_overlay), ("1-Wire bus", check_w1_bus), ("thermometer", check_thermometer),
    ("check probe", check_check_probe),
    ("GPIO chips", check_gpio), ("pin factory", check_pin_factory), ("pins", check_pins),
    ("service", check_service), ("socket", check_socket), ("journal", check_journal), ("clock", check_clock),
    ("CPU temperature", check_cpu_temperature), ("power", check_power),
)


# -- running them -----------------------------------------------------------------------------

def read_boot_config(root: Path) -> BootConfig:
    for name in BOOT_CONFIGS:
        path = root / name
        with contextlib.suppress(OSError):
            return parse_boot_config(path.read_text(errors="replace"), path)
    return BootConfig(None)


def make_context(config: Config, root: Path, config_problem: str | None = None) -> Context:
    ctx = Context(config, Path(root), config_problem, read_boot_config(Path(root)))
    try:
        with Client(ctx.path(config.paths.socket), timeout_s=3.0) as client:
            status = client.request("status")
        return replace(ctx, status=status if isinstance(status, dict) else None)
    except (KioskError, OSError, ValueError) as exc:
        return replace(ctx, service_error=str(exc))


def run_checks(ctx: Context, out=None) -> list[Result]:
    """Every check, in order; each one printed as soon as it is done when `out` is given. A
    check that breaks is a failed check, never the end of the report."""
    results = []
    for name, check in CHECKS:
        try:
            result = check(ctx)
        except Exception as exc:
            result = Result(name, FAIL, f"the check itself failed: {type(exc).__name__}: {exc}",
                            "report this with the output of `footbath doctor`")
        results.append(result)
        if out is not None:
            print(format_result(result), file=out, flush=True)
    return results


def format_result(result: Result, width: int = 100) -> str:
    indent = " " * 25
    wrap = {"width": width, "subsequent_indent": indent, "break_on_hyphens": False,
            "break_long_words": False}
    lines = []
    for n, part in enumerate(result.detail.splitlines() or [""]):
        head = f"  {result.status:4s}  {result.name:17s}" if n == 0 else indent
        lines.append(textwrap.fill(part, initial_indent=head, **wrap))
    if result.fix:
        lines.append(textwrap.fill(f"fix: {result.fix}", initial_indent=indent,
                                   **{**wrap, "subsequent_indent": indent + "     "}))
    return "\n".join(lines)


def summary(results: list[Result]) -> str:
    counts = {s: sum(1 for r in results if r.status == s) for s in (PASS, WARN, FAIL)}
    return f"{counts[PASS]} passed, {counts[WARN]} warned, {counts[FAIL]} failed"


def cmd_doctor(config: Config, *, root: Path = Path("/"), out=None, config_problem: str | None = None) -> int:
    """Run every check against the system under `root`; 0 when none failed, 1 otherwise."""
    out = sys.stdout if out is None else out
    print(f"footbath doctor: checking {root}", file=out, flush=True)
    results = run_checks(make_context(config, Path(root), config_problem), out)
    print(summary(results), file=out)
    return 1 if any(r.status == FAIL for r in results) else 0


def cmd_doctor_file(config_path: str | os.PathLike | None, *, root: Path = Path("/"), out=None) -> int:
    """Like cmd_doctor, reading the config itself, so that a config with errors is one failed
    check and not the end of the report. Without --config or $FOOTBATH_CONFIG it reads the
    default config under `root`."""
    root = Path(root)
    if not config_path and not os.environ.get(ENV_VAR):
        config_path = root / DEFAULT_PATH.relative_to("/")
        if not Path(config_path).exists():
            return cmd_doctor(Config(), root=root, out=out)
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        problems = "\n".join(str(p) for p in exc.problems) or str(exc)
        return cmd_doctor(Config(), root=root, out=out, config_problem=problems)
    return cmd_doctor(config, root=root, out=out)


def add_arguments(parser) -> None:
    parser.add_argument("--root", type=Path, default=Path("/"), metavar="DIR",
                        help="check the system installed under DIR (a mounted SD card, say) instead of "
                             "this one (default: /); commands such as timedatectl only run for /")
