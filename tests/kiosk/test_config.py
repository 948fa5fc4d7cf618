"""The staff's config file (DESIGN.md section 4): every key optional, every mistake located."""

from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.devices import DEVICES
from kiosk import config as config_module
from kiosk.config import (
    Config,
    Device,
    load_config,
    parse_config,
    resolve_path,
)
from kiosk.errors import ConfigError, KioskError

# The sample of DESIGN.md section 4, as staff will copy it.
SAMPLE = """\
paths:
  routines_dir: /etc/footbath/routines
  state_dir: /var/lib/footbath          # journal
  socket: /run/footbath/footbath.sock
bath:
  litres: 5.0
  heater_w: 500
  ceiling_c: 40.0                       # may be lowered, never raised above 40.0
hardware:
  simulate: auto                        # auto (simulate when no Pi hardware), true, false
  pin_factory: null                     # gpiozero's default; "mock" runs real code on mock pins
  thermometer:
    sensor_id: null                     # null: the only sensor on the bus
    devices_dir: /sys/bus/w1/devices    # point the real w1thermsensor code at a fake bus
  heater:       {pin: 17, active_high: false}
  pump:         {pin: 27, active_high: false}   # optional, like every device below
  vibration:    {pin: 18}
  buzzer:       {pin: 22}
  stop_button:  {pin: 23}
  float_switch: {pin: 24}
kiosk: {language: en, blank_after_s: 300, volume: 0.6}
cleaning: {required: true, contact_s: 600}
journal: {keep_days: 180}
mqtt: null
"""


def problems_of(text: str, file: str = "c.yaml"):
    with pytest.raises(ConfigError) as caught:
        parse_config(text, file)
    return caught.value.problems


def only_problem(text: str):
    problems = problems_of(text)
    assert len(problems) == 1, problems
    return problems[0]


# -- the sample and the defaults ----------------------------------------------------------


def test_the_design_sample_parses_to_what_it_says():
    config = parse_config(SAMPLE, "config.yaml")
    assert config.file == "config.yaml"
    assert config.paths.routines_dir == Path("/etc/footbath/routines")
    assert config.paths.state_dir == Path("/var/lib/footbath")
    assert config.paths.socket == Path("/run/footbath/footbath.sock")
    assert (config.bath.litres, config.bath.heater_w, config.bath.ceiling_c) == (5.0, 500.0, 40.0)
    hw = config.hardware
    assert (hw.simulate, hw.pin_factory) == ("auto", None)
    assert hw.thermometer.sensor_id is None
    assert hw.thermometer.devices_dir == Path("/sys/bus/w1/devices")
    assert hw.heater == Device(17, active_high=False)
    assert hw.pump == Device(27, active_high=False)
    # Relays default to active-low (the common relay boards), buttons and the float switch to a
    # contact closing to GND against the pull-up; the motor driver and the buzzer to active-high.
    assert [getattr(hw, n) for n in ("vibration", "buzzer", "stop_button", "float_switch")] == [
        Device(18), Device(22), Device(23, active_high=False), Device(24, active_high=False)]
    assert hw.safety_relay is None and hw.thermometer.check_sensor_id is None  # not in the sample
    assert (config.kiosk.language, config.kiosk.blank_after_s, config.kiosk.volume) == ("en", 300, 0.6)
    assert (config.cleaning.required, config.cleaning.contact_s) == (True, 600)
    assert config.journal.keep_days == 180
    assert config.mqtt is None


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing set yet\n", "~\n", "---\n", "\ufeff"],
                         ids=["empty", "blank-lines", "comments", "null", "doc-start", "bom"])
def test_an_empty_file_is_valid_and_means_all_defaults(text):
    config = parse_config(text, "c.yaml")
    assert replace(config, file=None) == Config()
    assert config.file == "c.yaml"


def test_defaults_are_the_documented_ones():
    config = Config()
    assert config.paths.routines_dir == Path("/etc/footbath/routines")
    assert config.bath.ceiling_c == 40.0
    assert config.hardware.heater == Device(17, active_high=False)
    assert all(getattr(config.hardware, n) is None for n in DEVICES[1:])  # only the heater is required
    assert config.mqtt is None


@pytest.mark.parametrize("section", ["paths", "bath", "hardware", "kiosk", "cleaning", "journal",
                                     "mqtt"])
def test_an_empty_section_keeps_its_defaults(section):
    config = parse_config(f"{section}:\n", "c.yaml")
    assert replace(config, file=None) == Config()


# Every key of the sample, alone or with any others, parses to the sample's value, and every
# key left out keeps its default: keys are independent and all optional.
SAMPLE_DATA = yaml.safe_load(SAMPLE)
SAMPLE_CONFIG = parse_config(SAMPLE, "sample.yaml")
DEFAULTS = Config()


def _section_subsets():
    parts = {}
    for section, body in SAMPLE_DATA.items():
        if isinstance(body, dict):
            keys = sorted(body)
            parts[section] = st.none() | st.lists(st.sampled_from(keys), unique=True)
        else:
            parts[section] = st.none() | st.just([])
    return st.fixed_dictionaries(parts)


@settings(max_examples=200, deadline=None)
@given(chosen=_section_subsets())
def test_every_key_is_optional_and_independent(chosen):
    data = {section: {k: SAMPLE_DATA[section][k] for k in keys} if SAMPLE_DATA[section] else None
            for section, keys in chosen.items() if keys is not None}
    config = parse_config(yaml.safe_dump(data, sort_keys=False), "c.yaml")
    for section, body in SAMPLE_DATA.items():
        if not isinstance(body, dict):
            continue
        for key in body:
            picked = chosen[section] is not None and key in chosen[section]
            source = SAMPLE_CONFIG if picked else DEFAULTS
            expected = getattr(getattr(source, section), key)
            assert getattr(getattr(config, section), key) == expected, (section, key)


# -- mistakes, located ---------------------------------------------------------------------


def test_an_unknown_key_is_located_and_a_close_one_suggested():
    problem = only_problem("bath:\n  litres: 5\npahts:\n  socket: /run/x.sock\n")
    assert (problem.file, problem.line, problem.col, problem.path) == ("c.yaml", 3, 1, "pahts")
    assert "unknown key" in problem.message
    assert "did you mean 'paths'?" in problem.message


def test_an_unknown_nested_key_is_located():
    problem = only_problem("hardware:\n  thermometer:\n    sensor: 0123456789ab\n")
    assert (problem.line, problem.col, problem.path) == (3, 5, "hardware.thermometer.sensor")
    assert "allowed keys: sensor_id, devices_dir" in problem.message


def test_a_problem_prints_as_file_line_col_path_message():
    problem = only_problem("kiosk:\n  volume: 1.5\n")
    assert str(problem) == ("c.yaml:2:11: kiosk.volume: 1.5 is out of range; "
                            "allowed: a number from 0.0 to 1.0 (0 is mute)")


BAD_VALUES = [
    # (document, path, line, col, what the message must say)
    ("bath:\n  litres: 0.5\n", "bath.litres", 2, 11, "out of range"),
    ("bath:\n  litres: five\n", "bath.litres", 2, 11, "'five' is not a number"),
    ("bath:\n  heater_w: .nan\n", "bath.heater_w", 2, 13, "out of range"),
    ("bath:\n  heater_w: 20000\n", "bath.heater_w", 2, 13, "from 50 to 3000 W"),
    ("bath: 5\n", "bath", 1, 7, "not a mapping"),
    ("paths:\n  socket: run/footbath.sock\n", "paths.socket", 2, 11, "not an absolute path"),
    ("paths:\n  routines_dir: 5\n", "paths.routines_dir", 2, 17, "not text"),
    ("hardware:\n  simulate: maybe\n", "hardware.simulate", 2, 13, "allowed: 'auto', true, false"),
    ("hardware:\n  pin_factory: gpio\n", "hardware.pin_factory", 2, 16, "'mock'"),
    ("hardware:\n  heater: {pin: 40}\n", "hardware.heater.pin", 2, 17, "BCM GPIO number"),
    ("hardware:\n  heater: {pin: 1}\n", "hardware.heater.pin", 2, 17, "from 2 to 27"),
    ("hardware:\n  pump: {pin: 5.5}\n", "hardware.pump.pin", 2, 15, "not a whole number"),
    ("hardware:\n  pump: {active_high: true}\n", "hardware.pump.pin", 2, 9, "required"),
    ("hardware:\n  pump: {pin: 5, active_high: low}\n", "hardware.pump.active_high", 2, 31,
     "true or false"),
    ("hardware:\n  heater: null\n", "hardware.heater", 2, 11, "heater cannot be left out"),
    ("hardware:\n  thermometer:\n    sensor_id: 28-XYZ\n", "hardware.thermometer.sensor_id", 3, 16,
     "12 hex digits"),
    ("hardware:\n  thermometer:\n    devices_dir: sys/bus\n", "hardware.thermometer.devices_dir",
     3, 18, "not an absolute path"),
    ("hardware:\n  safety_relay: {pin: 28}\n", "hardware.safety_relay.pin", 2, 23, "from 2 to 27"),
    ("hardware:\n  safety_relay: {pin: 25, active_high: 0}\n", "hardware.safety_relay.active_high",
     2, 40, "true or false"),
    ("hardware:\n  safety_relay: 25\n", "hardware.safety_relay", 2, 17, "not a mapping"),
    ("hardware:\n  pin_factory: lgpio\n  gpio_chip: -1\n", "hardware.gpio_chip", 3, 14,
     "from 0 to 255 (N of /dev/gpiochipN)"),
    ("hardware:\n  pin_factory: lgpio\n  gpio_chip: 256\n", "hardware.gpio_chip", 3, 14, "out of range"),
    ("hardware:\n  pin_factory: lgpio\n  gpio_chip: 4.5\n", "hardware.gpio_chip", 3, 14,
     "not a whole number"),
    ("hardware:\n  pin_factory: lgpio\n  gpio_chip: /dev/gpiochip4\n", "hardware.gpio_chip", 3, 14,
     "not a whole number"),
    ("hardware:\n  pin_factory: lgpio\n  gpio_chip: true\n", "hardware.gpio_chip", 3, 14,
     "not a whole number"),
    ("hardware:\n  thermometer:\n    sensor_id: 0316a2790b00\n    check_sensor_id: 28-0316a2790b\n",
     "hardware.thermometer.check_sensor_id", 4, 22, "12 hex digits"),
    ("hardware:\n  thermometer:\n    sensor_id: 0316a2790b00\n    check_sensor_id: [a]\n",
     "hardware.thermometer.check_sensor_id", 4, 22, "not text"),
    ("kiosk:\n  language: fr\n", "kiosk.language", 2, 13, "allowed: 'en', 'de'"),
    ("kiosk:\n  blank_after_s: 10\n", "kiosk.blank_after_s", 2, 18, "from 30 to 86400 s"),
    ("cleaning:\n  required: 1\n", "cleaning.required", 2, 13, "true or false"),
    ("cleaning:\n  contact_s: 5\n", "cleaning.contact_s", 2, 14, "out of range"),
    ("journal:\n  keep_days: -1\n", "journal.keep_days", 2, 14, "out of range"),
    ("mqtt:\n  port: 1883\n", "mqtt.host", 2, 3, "required"),
    ("mqtt:\n  host: b\n  station: a/b\n", "mqtt.station", 3, 12, "part of every topic"),
    ("mqtt:\n  host: b\n  password: x\n", "mqtt.password", 3, 13, "needs a username"),
    ("- paths\n", "(file)", 1, 1, "not a mapping"),
]


@pytest.mark.parametrize(("text", "path", "line", "col", "says"), BAD_VALUES,
                         ids=[case[1] for case in BAD_VALUES])
def test_a_bad_value_is_an_error_at_its_place(text, path, line, col, says):
    problem = only_problem(text)
    assert (problem.path, problem.line, problem.col) == (path, line, col)
    assert says in problem.message


def test_every_problem_is_reported_in_one_pass_in_file_order():
    text = "kiosk:\n  language: fr\n  volume: 2\nbath:\n  ceiling_c: 45\njournal:\n  keep: 9\n"
    problems = problems_of(text)
    assert [(p.line, p.path) for p in problems] == [
        (2, "kiosk.language"), (3, "kiosk.volume"), (5, "bath.ceiling_c"), (7, "journal.keep")]


@pytest.mark.parametrize(("text", "line", "col", "says"), [
    ("bath:\n\tlitres: 5\n", 2, 1, "tab"),
    ("bath: [1, 2\n", 2, 1, "not valid YAML"),
    ("bath:\n  litres: 5\n  litres: 6\n", 3, 3, "duplicate key 'litres'"),
    ("bath: !!python/object:os.system {}\n", 1, 7, "tag"),
])
def test_broken_yaml_is_a_located_config_error(text, line, col, says):
    problem = only_problem(text)
    assert (problem.line, problem.col) == (line, col)
    assert says in problem.message


def test_config_error_is_the_kiosk_root_and_a_value_error():
    with pytest.raises(KioskError) as caught:
        parse_config("bath: {litres: 0}\n", "c.yaml")
    assert isinstance(caught.value, ValueError)
    assert str(caught.value).startswith("c.yaml:1:16: bath.litres: ")


# -- the ceiling ---------------------------------------------------------------------------


@pytest.mark.parametrize("ceiling_c", [30.0, 37.0, 39.5, 40.0])
def test_the_ceiling_may_be_lowered(ceiling_c):
    assert parse_config(f"bath:\n  ceiling_c: {ceiling_c}\n", "c.yaml").bath.ceiling_c == ceiling_c


@pytest.mark.parametrize("ceiling_c", ["40.01", "40.5", "45", "100", ".inf"])
def test_the_ceiling_is_never_raised_above_40(ceiling_c):
    problem = only_problem(f"bath:\n  ceiling_c: {ceiling_c}\n")
    assert (problem.path, problem.line, problem.col) == ("bath.ceiling_c", 2, 14)
    assert "to 40.0 C" in problem.message
    assert "never raised" in problem.message


@settings(max_examples=200, deadline=None)
@given(ceiling_c=st.floats(min_value=0.0, max_value=1000.0))
def test_the_ceiling_is_accepted_exactly_from_30_to_40(ceiling_c):
    text = f"bath:\n  ceiling_c: {ceiling_c!r}\n"
    if 30.0 <= ceiling_c <= 40.0:
        assert parse_config(text, "c.yaml").bath.ceiling_c == ceiling_c
    else:
        assert only_problem(text).path == "bath.ceiling_c"


# -- pins ----------------------------------------------------------------------------------


def test_a_device_on_the_heaters_default_pin_is_refused_at_its_pin():
    problem = only_problem("hardware:\n  pump: {pin: 17}\n")
    assert (problem.path, problem.line, problem.col) == ("hardware.pump.pin", 2, 15)
    assert "GPIO 17 is also the heater" in problem.message


def test_two_optional_devices_on_one_pin_are_refused_at_the_second():
    problem = only_problem("hardware:\n  buzzer:\n    pin: 5\n  stop_button:\n    pin: 5\n")
    assert (problem.path, problem.line, problem.col) == ("hardware.stop_button.pin", 5, 10)
    assert problem.message == "GPIO 5 is also the buzzer; one device per pin"


def test_every_device_sharing_a_pin_is_reported():
    problems = problems_of("hardware:\n  heater: {pin: 5}\n  pump: {pin: 5}\n  buzzer: {pin: 5}\n")
    assert [p.path for p in problems] == ["hardware.pump.pin", "hardware.buzzer.pin"]


def test_moving_the_heater_frees_its_default_pin():
    hw = parse_config("hardware:\n  heater: {pin: 5}\n  pump: {pin: 17}\n", "c.yaml").hardware
    assert (hw.heater, hw.pump) == (Device(5, active_high=False), Device(17, active_high=False))


@pytest.mark.parametrize("value", ["null", "false"])
def test_an_optional_device_can_be_written_as_not_fitted(value):
    assert parse_config(f"hardware:\n  pump: {value}\n", "c.yaml").hardware.pump is None


def test_a_sensor_id_is_kept_without_its_family_prefix():
    text = "hardware:\n  thermometer:\n    sensor_id: 28-0123456789ab\n"
    assert parse_config(text, "c.yaml").hardware.thermometer.sensor_id == "0123456789ab"


# -- the safety relay ----------------------------------------------------------------------


def test_a_safety_relay_is_a_relay_board_input_active_low_by_default():
    hw = parse_config("hardware:\n  safety_relay: {pin: 25}\n", "c.yaml").hardware
    assert hw.safety_relay == Device(25, active_high=False)
    assert "safety_relay" in DEVICES  # what the service hands the rig, by the same name
    wired_high = parse_config("hardware:\n  safety_relay: {pin: 25, active_high: true}\n", "c.yaml")
    assert wired_high.hardware.safety_relay == Device(25, active_high=True)


@pytest.mark.parametrize("value", ["null", "false"])
def test_no_safety_relay_unless_configured(value):
    assert Config().hardware.safety_relay is None
    assert parse_config(f"hardware:\n  safety_relay: {value}\n", "c.yaml").hardware.safety_relay is None


@pytest.mark.parametrize(("pin", "others", "who"), [
    (17, "", "heater"),  # the heater's default pin
    (5, "  heater: {pin: 5}\n", "heater"),
    (5, "  pump: {pin: 5}\n", "pump"),
    (5, "  float_switch:\n    pin: 5\n", "float_switch"),
])
def test_the_safety_relay_shares_no_pin(pin, others, who):
    problem = only_problem(f"hardware:\n  safety_relay: {{pin: {pin}}}\n{others}")
    assert (problem.path, problem.line, problem.col) == ("hardware.safety_relay.pin", 2, 23)
    assert problem.message == f"GPIO {pin} is also the {who}; one device per pin"


def test_a_device_on_the_safety_relays_pin_is_refused_too():
    problems = problems_of("hardware:\n  safety_relay: {pin: 25}\n  buzzer: {pin: 25}\n")
    assert [(p.path, p.line) for p in problems] == [("hardware.safety_relay.pin", 2)]


# -- the GPIO chip ---------------------------------------------------------------------------


def test_the_gpio_chip_is_gpiozeros_choice_unless_configured():
    assert Config().hardware.gpio_chip is None
    assert parse_config("hardware:\n  pin_factory: lgpio\n  gpio_chip: null\n", "c.yaml").hardware.gpio_chip \
        is None


@pytest.mark.parametrize("chip", [0, 4, 10, 255])
def test_the_gpio_chip_is_kept_with_the_lgpio_factory(chip):
    hw = parse_config(f"hardware:\n  pin_factory: lgpio\n  gpio_chip: {chip}\n", "c.yaml").hardware
    assert (hw.pin_factory, hw.gpio_chip) == ("lgpio", chip)


def test_the_gpio_chip_may_come_before_the_pin_factory():
    hw = parse_config("hardware:\n  gpio_chip: 4\n  pin_factory: lgpio\n", "c.yaml").hardware
    assert hw.gpio_chip == 4


@pytest.mark.parametrize(("factory", "says"), [
    (None, "not set (gpiozero's choice)"),
    ("null", "not set (gpiozero's choice)"),
    ("mock", "is mock"),
    ("rpigpio", "is rpigpio"),
    ("pigpio", "is pigpio"),
    ("native", "is native"),
])
def test_a_gpio_chip_beside_any_factory_but_lgpio_is_an_error_at_the_chip(factory, says):
    text = "hardware:\n"
    if factory is not None:
        text += f"  pin_factory: {factory}\n"
    text += "  gpio_chip: 4\n"
    problem = only_problem(text)
    line = 3 if factory is not None else 2
    assert (problem.path, problem.line, problem.col) == ("hardware.gpio_chip", line, 14)
    assert "only the lgpio pin factory opens a GPIO chip" in problem.message
    assert says in problem.message and "set hardware.pin_factory: lgpio" in problem.message


def test_a_bad_pin_factory_beside_a_gpio_chip_is_one_problem_at_the_factory():
    problem = only_problem("hardware:\n  pin_factory: lgpoi\n  gpio_chip: 4\n")
    assert (problem.path, problem.line) == ("hardware.pin_factory", 2)


# -- the check probe -----------------------------------------------------------------------

TWO_PROBES = "hardware:\n  thermometer:\n    sensor_id: {main}\n    check_sensor_id: {check}\n"


@pytest.mark.parametrize(("main", "check"), [
    ("0316a2790b00", "0316a2790bff"),
    ("28-0316a2790b00", "28-0316a2790bff"),
    ("28-0316A2790B00", "0316A2790BFF"),  # as printed on some probes' labels
    ("'000006123456'", "28-000006123457"),
])
def test_a_check_probe_is_kept_like_the_main_one(main, check):
    t = parse_config(TWO_PROBES.format(main=main, check=check), "c.yaml").hardware.thermometer
    assert (t.sensor_id, t.check_sensor_id) == (main.strip("'").lower().removeprefix("28-"),
                                                check.lower().removeprefix("28-"))


def test_no_check_probe_unless_configured():
    assert Config().hardware.thermometer.check_sensor_id is None
    text = "hardware:\n  thermometer:\n    sensor_id: 0316a2790b00\n    check_sensor_id: null\n"
    assert parse_config(text, "c.yaml").hardware.thermometer.check_sensor_id is None


@pytest.mark.parametrize(("main", "check"), [
    ("0316a2790b00", "0316a2790b00"),
    ("28-0316a2790b00", "0316a2790b00"),
    ("0316a2790b00", "28-0316A2790B00"),
])
def test_the_check_probe_is_not_the_main_probe(main, check):
    problem = only_problem(TWO_PROBES.format(main=main, check=check))
    assert (problem.path, problem.line, problem.col) == ("hardware.thermometer.check_sensor_id", 4, 22)
    assert "28-0316a2790b00 is also hardware.thermometer.sensor_id" in problem.message


@pytest.mark.parametrize("main", [None, "null"])
def test_a_check_probe_needs_the_main_probe_named(main):
    text = "hardware:\n  thermometer:\n"
    if main is not None:
        text += f"    sensor_id: {main}\n"
    text += "    check_sensor_id: 0316a2790bff\n"
    problem = only_problem(text)
    line = 4 if main is not None else 3
    assert (problem.path, problem.line, problem.col) == ("hardware.thermometer.check_sensor_id", line, 22)
    assert "two DS18B20s on the bus" in problem.message
    assert "set hardware.thermometer.sensor_id" in problem.message


def test_a_bad_main_id_beside_a_check_probe_is_one_problem_at_the_main_id():
    problem = only_problem(TWO_PROBES.format(main="28-XYZ", check="0316a2790bff"))
    assert (problem.path, problem.line, problem.col) == ("hardware.thermometer.sensor_id", 3, 16)


@pytest.mark.parametrize("key", ["sensor_id", "check_sensor_id"])
def test_an_id_of_digits_alone_is_read_as_a_number_and_says_so(key):
    other = "check_sensor_id: 0316a2790bff" if key == "sensor_id" else "sensor_id: 0316a2790b00"
    problem = only_problem(f"hardware:\n  thermometer:\n    {other}\n    {key}: 000006123456\n")
    assert (problem.path, problem.line) == (f"hardware.thermometer.{key}", 4)
    assert "read as a number" in problem.message and "'28-' in front" in problem.message


# -- where the file comes from -------------------------------------------------------------


@pytest.fixture
def no_default_file(monkeypatch, tmp_path):
    """Point the built-in default at a file that does not exist: tests never read /etc."""
    monkeypatch.setattr(config_module, "DEFAULT_PATH", tmp_path / "etc" / "config.yaml")
    monkeypatch.delenv("FOOTBATH_CONFIG", raising=False)
    return config_module.DEFAULT_PATH


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_missing_default_file_means_all_defaults(no_default_file):
    assert resolve_path(None) == (no_default_file, False)
    assert load_config() == Config()  # file None: nothing was read


def test_the_default_file_is_read_when_present(no_default_file):
    no_default_file.parent.mkdir()
    write(no_default_file, "bath:\n  litres: 7\n")
    config = load_config()
    assert (config.bath.litres, config.file) == (7.0, str(no_default_file))


def test_the_environment_beats_the_default(no_default_file, monkeypatch, tmp_path):
    no_default_file.parent.mkdir()
    write(no_default_file, "bath:\n  litres: 7\n")
    env = write(tmp_path / "env.yaml", "bath:\n  litres: 8\n")
    monkeypatch.setenv("FOOTBATH_CONFIG", str(env))
    assert resolve_path(None) == (env, True)
    assert load_config().bath.litres == 8.0


def test_the_option_beats_the_environment(no_default_file, monkeypatch, tmp_path):
    env = write(tmp_path / "env.yaml", "bath:\n  litres: 8\n")
    explicit = write(tmp_path / "option.yaml", "bath:\n  litres: 9\n")
    monkeypatch.setenv("FOOTBATH_CONFIG", str(env))
    assert resolve_path(str(explicit)) == (explicit, True)
    config = load_config(str(explicit))
    assert (config.bath.litres, config.file) == (9.0, str(explicit))


def test_a_missing_explicit_file_is_an_error(no_default_file, tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="no such config file") as caught:
        load_config(missing)
    assert str(missing) in str(caught.value)


def test_a_missing_file_named_by_the_environment_is_an_error(no_default_file, monkeypatch, tmp_path):
    monkeypatch.setenv("FOOTBATH_CONFIG", str(tmp_path / "nope.yaml"))
    with pytest.raises(ConfigError, match=r"\$FOOTBATH_CONFIG"):
        load_config()


def test_an_unreadable_config_path_is_an_error(no_default_file, tmp_path):
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(tmp_path)  # a directory


def test_a_bad_file_reports_its_own_path(no_default_file, tmp_path):
    path = write(tmp_path / "config.yaml", "bath:\n  ceiling_c: 41\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (problem,) = caught.value.problems
    assert str(problem).startswith(f"{path}:2:14: bath.ceiling_c: ")
