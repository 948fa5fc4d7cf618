"""The staff's config file: every key optional, every mistake located (FILE:LINE:COL).

Looked up as `--config PATH`, else `$FOOTBATH_CONFIG`, else /etc/footbath/config.yaml; a
missing default file means all defaults. The key names are the staff's interface: keep them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from hardware.devices import DEVICES
from routines import CEILING_C, RoutineError
from routines.yamldoc import Checker, Node, parse

from . import ui_defaults
from .errors import ConfigError
from .mqtt import MqttConfig

DEFAULT_PATH = Path("/etc/footbath/config.yaml")
ENV_VAR = "FOOTBATH_CONFIG"
BCM_PINS = range(2, 28)
GPIO_CHIPS = range(256)  # N of /dev/gpiochipN


@dataclass(frozen=True)
class Paths:
    routines_dir: Path = Path("/etc/footbath/routines")
    state_dir: Path = Path("/var/lib/footbath")
    socket: Path = Path("/run/footbath/footbath.sock")


@dataclass(frozen=True)
class Bath:
    litres: float = 5.0
    heater_w: float = 500.0
    ceiling_c: float = CEILING_C


@dataclass(frozen=True)
class Device:
    pin: int
    active_high: bool = True


@dataclass(frozen=True)
class ThermometerConfig:
    sensor_id: str | None = None  # the 12 hex digits, without "28-"; None: the bus's only DS18B20
    devices_dir: Path = Path("/sys/bus/w1/devices")
    # A second DS18B20 in the same water, on the same bus: the two must agree, and the higher
    # reading is the one the ceiling and over-temperature rules use. None: not fitted.
    check_sensor_id: str | None = None


@dataclass(frozen=True)
class Hardware:
    simulate: str | bool = "auto"
    pin_factory: str | None = None
    # The GPIO character device (N of /dev/gpiochipN) the lgpio pin factory opens; None:
    # gpiozero's choice (4 on a Pi 5 that has /dev/gpiochip4, else 0). Only lgpio takes it.
    gpio_chip: int | None = None
    thermometer: ThermometerConfig = field(default_factory=ThermometerConfig)
    heater: Device = Device(17, active_high=False)
    pump: Device | None = None
    vibration: Device | None = None
    buzzer: Device | None = None
    stop_button: Device | None = None
    float_switch: Device | None = None
    # A second relay in series with the heater, closed only while a session may heat: the one
    # thing software can do about a heater relay welded shut. None: not fitted.
    safety_relay: Device | None = None


@dataclass(frozen=True)
class KioskSettings:
    language: str = ui_defaults.LANGUAGE
    blank_after_s: int = ui_defaults.BLANK_AFTER_S
    volume: float = ui_defaults.VOLUME
    rotation: int = ui_defaults.ROTATION


@dataclass(frozen=True)
class Cleaning:
    required: bool = True
    contact_s: int = 600


@dataclass(frozen=True)
class SessionLimits:
    idle_off_s: int = 120  # after a session, every output off once idle this long
    margin_s: int = 3600  # warming, waiting and pauses allowed on top of a routine's length


@dataclass(frozen=True)
class Journal:
    keep_days: int = 180


@dataclass(frozen=True)
class Config:
    paths: Paths = field(default_factory=Paths)
    bath: Bath = field(default_factory=Bath)
    hardware: Hardware = field(default_factory=Hardware)
    kiosk: KioskSettings = field(default_factory=KioskSettings)
    cleaning: Cleaning = field(default_factory=Cleaning)
    session: SessionLimits = field(default_factory=SessionLimits)
    journal: Journal = field(default_factory=Journal)
    mqtt: MqttConfig | None = None  # telemetry off unless configured
    file: str | None = None  # where it came from; None for the built-in defaults


SECTIONS = ("paths", "bath", "hardware", "kiosk", "cleaning", "session", "journal", "mqtt")
# Relay boards (the heater's, the pump's, the safety relay's) switch on a low input; buttons and
# float switches close to GND against the Pi's pull-up. Only the motor driver and the buzzer
# are driven high.
ACTIVE_HIGH = ("vibration", "buzzer")
LANGUAGES = ("en", "de")


def resolve_path(explicit: str | os.PathLike | None = None) -> tuple[Path, bool]:
    """The config file to read, and whether someone asked for it (then it must exist)."""
    if explicit:
        return Path(explicit), True
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]), True
    return DEFAULT_PATH, False


def load_config(explicit: str | os.PathLike | None = None) -> Config:
    path, required = resolve_path(explicit)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if required:
            raise ConfigError(f"{path}: no such config file; check the path "
                              f"(--config or ${ENV_VAR})") from None
        return Config()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    return parse_config(data, str(path))


def parse_config(data: bytes | str, file: str) -> Config:
    try:
        root = parse(data, file)
    except RoutineError as exc:
        raise ConfigError.from_routine_error(exc) from None
    check = Checker(file)
    config = _config(check, root, file)
    check.raise_if_any(ConfigError)  # type: ignore[arg-type]
    return config


def _config(check: Checker, node: Node, file: str) -> Config:
    config = Config(file=file)
    if node.kind == "scalar" and node.value is None:
        return config
    fields = check.mapping(node, "", optional=SECTIONS)
    if not fields:
        return config
    for name, reader in (("paths", _paths), ("bath", _bath), ("hardware", _hardware),
                         ("kiosk", _kiosk), ("cleaning", _cleaning), ("session", _session),
                         ("journal", _journal)):
        if name in fields and not _empty(fields[name]):
            value = reader(check, fields[name], getattr(config, name))
            config = replace(config, **{name: value})
    if "mqtt" in fields and not _empty(fields["mqtt"]):
        config = replace(config, mqtt=_mqtt(check, fields["mqtt"]))
    return config


def _empty(node: Node) -> bool:
    return node.kind == "scalar" and node.value is None


def _set(check, fields, key, path, read, current):
    """Read one optional key; keep the current value when absent or bad."""
    if key not in fields:
        return current
    value = read(fields[key], f"{path}.{key}")
    return current if value is None else value


def _path(check: Checker):
    def read(node: Node, path: str):
        text = check.text(node, path, max_len=4096)
        if text is not None and not text.startswith("/"):
            check.problem(node, path, f"{text!r} is not an absolute path; start it with /")
            return None
        return None if text is None else Path(text)
    return read


def _paths(check: Checker, node: Node, current: Paths) -> Paths:
    fields = check.mapping(node, "paths", optional=("routines_dir", "state_dir", "socket")) or {}
    return Paths(*(_set(check, fields, key, "paths", _path(check), getattr(current, key))
                   for key in ("routines_dir", "state_dir", "socket")))


def _bath(check: Checker, node: Node, current: Bath) -> Bath:
    fields = check.mapping(node, "bath", optional=("litres", "heater_w", "ceiling_c")) or {}
    return Bath(
        litres=_set(check, fields, "litres", "bath",
                    lambda n, p: check.number(n, p, lo=1.0, hi=30.0, unit=" L"), current.litres),
        heater_w=_set(check, fields, "heater_w", "bath",
                      lambda n, p: check.number(n, p, lo=50, hi=3000, unit=" W"), current.heater_w),
        ceiling_c=_set(check, fields, "ceiling_c", "bath",
                       lambda n, p: check.number(n, p, lo=30.0, hi=CEILING_C, unit=" C "
                                                 "(it may be lowered, never raised)"),
                       current.ceiling_c),
    )


def _device(check: Checker, name: str, default_active_high: bool):
    def read(node: Node, path: str):
        if _empty(node) or (node.kind == "scalar" and node.value is False):
            return False  # explicitly not fitted
        fields = check.mapping(node, path, required=("pin",), optional=("active_high",))
        if fields is None or "pin" not in fields:
            return None
        pin = check.number(fields["pin"], f"{path}.pin", lo=BCM_PINS.start, hi=BCM_PINS.stop - 1,
                           integer=True, unit=" (a BCM GPIO number)")
        active_high = default_active_high
        if "active_high" in fields:
            active_high = check.boolean(fields["active_high"], f"{path}.active_high")
        if pin is None or active_high is None:
            return None
        return Device(pin, active_high)
    return read


def _hardware(check: Checker, node: Node, current: Hardware) -> Hardware:
    keys = ("simulate", "pin_factory", "gpio_chip", "thermometer", *DEVICES)
    fields = check.mapping(node, "hardware", optional=keys) or {}
    values = {
        "simulate": _set(check, fields, "simulate", "hardware",
                         lambda n, p: check.choice(n, p, ("auto", True, False)), current.simulate),
        "pin_factory": current.pin_factory,
        "gpio_chip": current.gpio_chip,
        "thermometer": current.thermometer,
    }
    if "pin_factory" in fields and not _empty(fields["pin_factory"]):
        values["pin_factory"] = check.choice(fields["pin_factory"], "hardware.pin_factory",
                                             ("mock", "lgpio", "rpigpio", "pigpio", "native"))
    if "gpio_chip" in fields:
        values["gpio_chip"] = _gpio_chip(check, fields, values["pin_factory"])
    if "thermometer" in fields and not _empty(fields["thermometer"]):
        values["thermometer"] = _thermometer(check, fields["thermometer"], current.thermometer)
    for name in DEVICES:
        device = _set(check, fields, name, "hardware",
                      _device(check, name, default_active_high=name in ACTIVE_HIGH),
                      getattr(current, name))
        values[name] = None if device is False else device
    if values["heater"] is None:
        check.problem(fields["heater"], "hardware.heater", "the heater cannot be left out; "
                                                           "give its pin")
        values["heater"] = current.heater
    hardware = Hardware(**values)
    _check_pins_unique(check, fields, hardware)
    return hardware


def _gpio_chip(check: Checker, fields: dict, pin_factory: str | None) -> int | None:
    """An error, not ignored, beside any factory but lgpio: the other factories open the Pi's
    own GPIO by other means, so a chip set there would change nothing while the staff believe
    the relays are driven through it."""
    node = fields["gpio_chip"]
    if _empty(node):
        return None
    chip = check.number(node, "hardware.gpio_chip", lo=GPIO_CHIPS.start, hi=GPIO_CHIPS.stop - 1,
                        integer=True, unit=" (N of /dev/gpiochipN)")
    if chip is not None and pin_factory != "lgpio":
        if "pin_factory" in fields and not _empty(fields["pin_factory"]) and pin_factory is None:
            return None  # a bad pin_factory: already reported
        factory = "not set (gpiozero's choice)" if pin_factory is None else pin_factory
        check.problem(node, "hardware.gpio_chip", f"only the lgpio pin factory opens a GPIO chip by its "
                                                  f"number, and hardware.pin_factory is {factory}; set "
                                                  "hardware.pin_factory: lgpio, or remove gpio_chip")
        return None
    return chip


def _check_pins_unique(check: Checker, fields: dict, hardware: Hardware) -> None:
    seen: dict[int, str] = {}
    for name in DEVICES:
        device = getattr(hardware, name)
        if device is None:
            continue
        if device.pin in seen and name in fields:
            node = fields[name]
            where = node.entries["pin"][1] if "pin" in node.entries else node  # point at the number
            check.problem(where, f"hardware.{name}.pin",
                          f"GPIO {device.pin} is also the {seen[device.pin]}; one device per pin")
        seen.setdefault(device.pin, name)


THERMOMETER_KEYS = ("sensor_id", "devices_dir", "check_sensor_id")


def _sensor_id(check: Checker, node: Node, path: str) -> str | None:
    """A DS18B20 id as hardware.w1file.sensor_name takes it: the 12 hex digits, '28-' in front or
    not, either case; kept as the 12 lower-case digits."""
    if node.kind == "scalar" and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        # An id of digits alone reads as a number (a leading 0 even as an octal one).
        check.problem(node, path, "the id was read as a number; write it as listed in "
                                  "/sys/bus/w1/devices, with '28-' in front (or in quotes)")
        return None
    text = check.text(node, path, max_len=32, pattern=r"(?i)(28-)?[0-9a-f]{12}",
                      pattern_help="write the 12 hex digits after '28-', as listed in "
                                   "/sys/bus/w1/devices")
    return None if text is None else text.lower().removeprefix("28-")


def _thermometer(check: Checker, node: Node, current: ThermometerConfig) -> ThermometerConfig:
    fields = check.mapping(node, "hardware.thermometer", optional=THERMOMETER_KEYS) or {}
    ids = {"sensor_id": current.sensor_id, "check_sensor_id": current.check_sensor_id}
    for key in ids:
        if key in fields:
            if _empty(fields[key]):
                ids[key] = None
            elif (found := _sensor_id(check, fields[key], f"hardware.thermometer.{key}")) is not None:
                ids[key] = found
    devices_dir = _set(check, fields, "devices_dir", "hardware.thermometer", _path(check),
                       current.devices_dir)
    sensor_id, check_sensor_id = ids["sensor_id"], ids["check_sensor_id"]
    if check_sensor_id is not None and "check_sensor_id" in fields:
        where = fields["check_sensor_id"]
        main_given = "sensor_id" in fields and not _empty(fields["sensor_id"])  # if bad: reported
        if sensor_id is None and not main_given:
            check.problem(where, "hardware.thermometer.check_sensor_id",
                          "a check probe needs the main probe named too: with two DS18B20s on the "
                          "bus, set hardware.thermometer.sensor_id to the probe the heater is "
                          "controlled by")
        elif check_sensor_id == sensor_id:
            check.problem(where, "hardware.thermometer.check_sensor_id",
                          f"28-{check_sensor_id} is also hardware.thermometer.sensor_id; the check "
                          "probe is a second DS18B20: give its own id")
    return ThermometerConfig(sensor_id, devices_dir, check_sensor_id)


def _kiosk(check: Checker, node: Node, current: KioskSettings) -> KioskSettings:
    fields = check.mapping(node, "kiosk", optional=("language", "blank_after_s", "volume",
                                                    "rotation")) or {}
    return KioskSettings(
        language=_set(check, fields, "language", "kiosk",
                      lambda n, p: check.choice(n, p, LANGUAGES), current.language),
        blank_after_s=_set(check, fields, "blank_after_s", "kiosk",
                           lambda n, p: check.number(n, p, lo=30, hi=86400, integer=True, unit=" s"),
                           current.blank_after_s),
        volume=_set(check, fields, "volume", "kiosk",
                    lambda n, p: check.number(n, p, lo=0.0, hi=1.0, unit=" (0 is mute)"),
                    current.volume),
        rotation=_set(check, fields, "rotation", "kiosk",
                      lambda n, p: check.choice(n, p, (0, 90, 180, 270)), current.rotation),
    )


def _cleaning(check: Checker, node: Node, current: Cleaning) -> Cleaning:
    fields = check.mapping(node, "cleaning", optional=("required", "contact_s")) or {}
    return Cleaning(
        required=_set(check, fields, "required", "cleaning", check.boolean, current.required),
        contact_s=_set(check, fields, "contact_s", "cleaning",
                       lambda n, p: check.number(n, p, lo=60, hi=3600, integer=True, unit=" s"),
                       current.contact_s),
    )


def _session(check: Checker, node: Node, current: SessionLimits) -> SessionLimits:
    fields = check.mapping(node, "session", optional=("idle_off_s", "margin_s")) or {}
    return SessionLimits(
        idle_off_s=_set(check, fields, "idle_off_s", "session",
                        lambda n, p: check.number(n, p, lo=10, hi=3600, integer=True, unit=" s"),
                        current.idle_off_s),
        margin_s=_set(check, fields, "margin_s", "session",
                      lambda n, p: check.number(n, p, lo=600, hi=7200, integer=True, unit=" s"),
                      current.margin_s),
    )


MQTT_KEYS = ("host", "port", "station", "base_topic", "discovery_prefix", "username", "password",
             "tls", "ca_file", "cert_file", "key_file", "commands", "keepalive_s", "queue_max")
TOPIC_WORD = r"[A-Za-z0-9_-]{1,64}"


def _mqtt(check: Checker, node: Node) -> MqttConfig | None:
    fields = check.mapping(node, "mqtt", required=("host",), optional=MQTT_KEYS[1:])
    if fields is None:
        return None
    import socket

    word = "letters, digits, - and _ (it becomes part of every topic)"
    values: dict = {"station": re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname())[:64] or "station1"}
    if "host" in fields:
        values["host"] = check.text(fields["host"], "mqtt.host", max_len=253)
    readers = {
        "port": lambda n, p: check.number(n, p, lo=1, hi=65535, integer=True),
        "station": lambda n, p: check.text(n, p, max_len=64, pattern=TOPIC_WORD, pattern_help=word),
        "base_topic": lambda n, p: check.text(n, p, max_len=64, pattern=TOPIC_WORD, pattern_help=word),
        "discovery_prefix": lambda n, p: check.text(n, p, max_len=64, pattern=TOPIC_WORD,
                                                    pattern_help=word),
        "username": lambda n, p: check.text(n, p, max_len=256),
        "password": lambda n, p: check.text(n, p, max_len=256),
        "tls": check.boolean,
        "ca_file": _path(check),
        "cert_file": _path(check),
        "key_file": _path(check),
        "commands": check.boolean,
        "keepalive_s": lambda n, p: check.number(n, p, lo=5, hi=3600, integer=True, unit=" s"),
        "queue_max": lambda n, p: check.number(n, p, lo=1, hi=10000, integer=True),
    }
    for key, read in readers.items():
        if key in fields and not _empty(fields[key]):
            values[key] = read(fields[key], f"mqtt.{key}")
    if "host" not in fields or any(v is None for v in values.values()):
        return None
    if values.get("password") and not values.get("username"):
        check.problem(fields["password"], "mqtt.password", "a password needs a username; add "
                                                           "mqtt.username")
    if any(k in values for k in ("ca_file", "cert_file", "key_file")) and not values.get("tls"):
        check.problem(node, "mqtt.tls", "certificate files are given but tls is off; set tls: true")
    return MqttConfig(**values)


def _journal(check: Checker, node: Node, current: Journal) -> Journal:
    fields = check.mapping(node, "journal", optional=("keep_days",)) or {}
    return Journal(keep_days=_set(check, fields, "keep_days", "journal",
                                  lambda n, p: check.number(n, p, lo=1, hi=3650, integer=True,
                                                            unit=" days"),
                                  current.keep_days))
