"""The staff's shell commands, run as the real `footbath` program against a real service.

The service runs in this process on the simulated bath and serves its socket on its own
thread; the test moves the bath read by read (`step_simulation`), so what each command
prints is checked against the service's own state at that moment. The commands that talk to
the service, and those whose exit and stderr matter most, run as separate processes, as staff
run them over SSH; the rest call the same `main()` in this process, which is quicker.
"""

import contextlib
import csv
import importlib.util
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hardware.w1file import w1_slave, write_bus
from kiosk.cli import main
from kiosk.config import load_config
from kiosk.journal import Journal
from kiosk.service import Service
from kiosk.staff_pins import PinStore
from routines import format_duration
from tests.helpers import Clock
from tests.kiosk.simulated import drive

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_S = 60.0  # only a hung test waits this long
NOBODY = 65534
REQUIRED = {"phase": str, "routine": (str, type(None)), "water_c": (float, type(None)),
            "target_c": (float, type(None)), "heater": bool, "faults": list,
            "remaining_s": (float, int, type(None)), "cleaning_needed": bool, "routine_errors": list}


def at_utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


class Place:
    """A config with everything in temporary places, and the service on it when wanted."""

    def __init__(self, tmp_path: Path):
        # The socket's folder is short (AF_UNIX paths), and open to others like /run/footbath
        # (so that a user without permission is refused by the socket's own mode).
        self.dir = Path(tempfile.mkdtemp(prefix="fb"))
        self.dir.chmod(0o755)
        self.tmp = tmp_path
        self.routines = tmp_path / "routines"
        self.routines.mkdir()
        self.state = tmp_path / "state"
        self.socket = self.dir / "api.sock"
        self.config = self.write_config("")
        self.service: Service | None = None

    def write_config(self, extra: str, name: str = "config.yaml") -> Path:
        path = self.dir / name
        path.write_text(f"paths:\n  routines_dir: {self.routines}\n  state_dir: {self.state}\n"
                        f"  socket: {self.socket}\n{extra}")
        path.chmod(0o644)
        return path

    def serve(self, water_c: float = 30.0) -> Service:
        self.service = Service(load_config(self.config), simulate=True, water_c=water_c)
        self.service.server.start()
        return self.service

    def close(self) -> None:
        if self.service is not None:
            self.service.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    """Local time is UTC here, as in the commands run as programs (history prints local times)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def place(tmp_path):
    place = Place(tmp_path)
    yield place
    place.close()


def env_for_cli() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("FOOTBATH_CONFIG", "NOTIFY_SOCKET")}
    env["TZ"] = "UTC"  # history prints local times
    return env


def footbath_process(config: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    """`footbath --config CONFIG ARGS` as a program of its own, as staff run it over SSH."""
    return subprocess.run([sys.executable, "-m", "kiosk.cli", "--config", str(config), *args], cwd=ROOT,
                          env=env_for_cli(), input=input, capture_output=True, text=True, timeout=DEADLINE_S)


def footbath(config: Path, *args: str, input: str = "") -> subprocess.CompletedProcess:
    """The same in this process (main() as the console script calls it): quicker, and the
    same code from the argument parser to the exit status."""
    out, err, stdin = io.StringIO(), io.StringIO(), sys.stdin
    sys.stdin = io.StringIO(input)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["--config", str(config), *args])
    finally:
        sys.stdin = stdin
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def ok(result: subprocess.CompletedProcess) -> str:
    assert (result.returncode, result.stderr) == (0, ""), result
    return result.stdout


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """A failed command: exit 1, nothing on stdout, one line on stderr."""
    assert result.returncode == 1, result
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("footbath: "), result.stderr
    return lines[0]


def fields_of(text: str) -> dict[str, str]:
    """`footbath status` as {label: value} (continuation lines are joined to their label)."""
    out, last = {}, None
    for line in text.splitlines():
        label, value = line[:10].strip(), line[11:]
        if label:
            out[label], last = value, label
        else:
            out[last] += "\n" + value
    return out


# -- status ----------------------------------------------------------------------------------

def test_status_during_a_soak(place):
    service = place.serve(water_c=37.8)
    service.controller.handle("start", {"routine": "classic", "profile": "standard"})
    status = drive(service, lambda s: s["phase"] == "soaking" and s["remaining_s"] < 590)

    shown = fields_of(ok(footbath_process(place.config, "status")))
    assert shown == {
        "phase": "soaking (Classic soak and massage, standard)",
        "water": f"{status['water_c']:.1f} C",
        "target": "38.0 C",
        "heater": "on" if status["heater"] else "off",
        "time left": format_duration(status["session_remaining_s"]),
        "faults": "none",
        "cleaning": "done",
        "routines": "all valid",
        "bath": "simulated",
    }

    as_json = json.loads(ok(footbath_process(place.config, "status", "--json")))
    assert as_json == json.loads(json.dumps(service.controller.status()))  # nothing moved meanwhile
    for key, kind in REQUIRED.items():
        assert isinstance(as_json[key], kind), key
    assert as_json["routine"] == "classic" and as_json["target_c"] == 38.0


def test_status_shows_the_second_probe_and_the_safety_relay_when_fitted(place):
    place.config = place.write_config(
        "hardware:\n  safety_relay: {pin: 25}\n  thermometer: {sensor_id: 28-000000f00ba7, "
        "check_sensor_id: 28-000000f00ba8}\n")
    service = place.serve(water_c=37.0)
    service.controller.handle("start", {"routine": "classic", "profile": "standard"})
    status = drive(service, lambda s: s["phase"] == "heating" and s["heater"])
    shown = fields_of(ok(footbath(place.config, "status")))
    assert shown["probe 2"] == f"{status['check_c']:.1f} C"
    assert shown["safety"] == "relay closed"


def test_status_shows_the_step_the_fault_the_cleaning_and_the_routine_errors(place):
    (place.routines / "broken.yaml").write_text("id: broken\nname: [oops\n")
    service = place.serve(water_c=37.0)
    service.controller.handle("start", {"routine": "quick", "profile": "gentle"})
    drive(service, lambda s: s["phase"] == "steps" and s["session"]["step_index"] == 1)
    shown = fields_of(ok(footbath(place.config, "status")))
    assert shown["phase"] == "steps (Quick refresh, gentle): step 2 of 3, Thumb walking, left foot"
    assert shown["target"] == "37.0 C"
    [error] = service.controller.status()["routine_errors"]
    assert re.match(rf"{re.escape(str(place.routines / 'broken.yaml'))}:\d+:\d+: ", error)
    assert shown["routines"] == f"1 problem(s):\n{error}"

    service.sim.bath.unplug_sensor()
    status = drive(service, lambda s: s["faults"], confirm=False)
    shown = fields_of(ok(footbath(place.config, "status")))
    [fault] = status["faults"]
    assert shown["faults"] == f"{fault['code']}: {fault['message']}"
    assert shown["water"] == "--.- C (no valid reading)"
    assert shown["cleaning"] == "needed before the next session"
    assert shown["heater"] == "off"
    assert "time left" not in shown


# -- temp ----------------------------------------------------------------------------------------

def test_temp_through_the_service(place):
    service = place.serve(water_c=33.3)
    status = drive(service, lambda s: s["water_c"] is not None)
    assert ok(footbath_process(place.config, "temp")) == f"{status['water_c']:.1f} C\n"
    service.sim.bath.unplug_sensor()
    drive(service, lambda s: s["water_c"] is None)
    assert ok(footbath_process(place.config, "temp")) == "--.- C (no valid reading)\n"


@pytest.mark.slow
def test_temp_watch_through_the_service_prints_each_snapshot(place):
    """The bath is held still meanwhile: the service still sends a snapshot every second."""
    service = place.serve(water_c=30.0)
    service.controller.handle("start", {"routine": "classic", "profile": "standard"})
    status = drive(service, lambda s: s["heater"])  # warming
    result = footbath_process(place.config, "temp", "--watch", "--count", "2")
    lines = ok(result).splitlines()
    assert len(lines) == 2
    for line in lines:
        assert re.fullmatch(rf"\d\d:\d\d:\d\d  {status['water_c']:.1f} C  heater on", line), line


def sensor_config(place, temp_c: float | None) -> Path:
    """The real bath's config (no simulation, mock pins) with a fake 1-Wire bus."""
    bus = place.tmp / "w1"
    write_bus(bus, {} if temp_c is None else {"28-0000075a1b2c": w1_slave(temp_c)})
    return place.write_config(f"hardware:\n  simulate: false\n  pin_factory: mock\n"
                              f"  thermometer: {{devices_dir: {bus}}}\n", name="real.yaml")


@pytest.mark.slow
def test_temp_reads_the_sensor_directly_when_the_service_is_not_running(place):
    config = sensor_config(place, 36.5)
    assert ok(footbath(config, "temp")) == "36.5 C  (read directly: the service is not running)\n"
    watched = ok(footbath(config, "temp", "--watch", "--count", "2"))
    assert watched.splitlines() == ["36.5 C  (read directly: the service is not running)"] * 2


def test_temp_directly_says_when_the_reading_is_not_valid(place):
    config = sensor_config(place, 85.0)  # the power-on value
    result = footbath(config, "temp")
    assert result.returncode == 1 and result.stderr == ""
    assert result.stdout.startswith("no valid reading: ")
    assert result.stdout.endswith("(read directly: the service is not running)\n")


def test_temp_without_service_or_sensor_is_one_clear_line(place):
    line = one_line_error(footbath(sensor_config(place, None), "temp"))
    assert line.startswith("footbath: the service is not running, and the thermometer cannot be read "
                           "directly: no DS18B20 thermometer on the 1-Wire bus")


# -- history ----------------------------------------------------------------------------------

def write_history(state: Path) -> list[int]:
    """Three sessions over two days, and two cleanings, at known times (UTC)."""
    clock = Clock()
    journal = Journal(state, wall=clock)
    ids = []
    for start, minutes, routine, profile, outcome, temps in (
            ("2024-05-01T09:00", 15, "classic", "standard", "done", [36.0, 38.25, 37.75]),
            ("2024-05-02T14:30", 4, "quick", "gentle", "stopped", [35.5, 36.5]),
            ("2024-05-02T16:00", None, "evening", "standard", None, [])):
        clock.now = at_utc(start)
        target_c = 37.0 if profile == "gentle" else 38.0
        sid = journal.session_started(routine, routine.title(), profile, target_c)
        for t in temps:
            clock.now += 5
            journal.sample(sid, t, True)
        if outcome:
            clock.now = at_utc(start) + minutes * 60
            journal.session_ended(sid, outcome)
            clock.now += 1800
            journal.cleaning(clock.now - 660, "anna" if outcome == "done" else "ben", 600)
        ids.append(sid)
    journal.close()
    return ids


def test_history_lists_the_sessions(place):
    ids = write_history(place.state)
    lines = ok(footbath_process(place.config, "history")).splitlines()
    assert [line.split() for line in lines] == [
        ["id", "started", "routine", "profile", "length", "outcome", "target_c", "peak_c", "mean_c"],
        f"{ids[0]} 2024-05-01 09:00 classic standard 15 min done 38.0 38.2 37.3".split(),
        f"{ids[1]} 2024-05-02 14:30 quick gentle 4 min stopped 37.0 36.5 36.0".split(),
        f"{ids[2]} 2024-05-02 16:00 evening standard running running 38.0".split(),
    ]
    # The columns line up under their headings.
    assert lines[0].index("routine") == lines[1].index("classic") == lines[3].index("evening")
    assert lines[0].index("outcome") == lines[1].index("done") == lines[2].index("stopped")


def test_history_since_a_date_and_as_csv(place):
    ids = write_history(place.state)
    rows = list(csv.DictReader(io.StringIO(ok(footbath(place.config, "history", "--since", "2024-05-02",
                                                       "--csv")))))
    assert [(int(r["id"]), r["started"], r["routine"], r["outcome"]) for r in rows] == [
        (ids[1], "2024-05-02 14:30", "quick", "stopped"), (ids[2], "2024-05-02 16:00", "evening", "running")]
    assert rows[0]["peak_c"] == "36.5" and rows[1]["peak_c"] == ""
    later = ok(footbath(place.config, "history", "--since", "2024-05-02T15:00", "--csv")).splitlines()
    assert len(later) == 2 and later[1].startswith(f"{ids[2]},")
    assert ok(footbath(place.config, "history", "--since", "2030-01-01")) == "nothing recorded\n"


def test_history_of_the_cleanings_for_an_inspector(place):
    write_history(place.state)
    lines = ok(footbath(place.config, "history", "--cleaning")).splitlines()
    assert [line.split() for line in lines] == [
        ["id", "started", "finished", "who", "contact"],
        ["1", "2024-05-01", "09:34", "2024-05-01", "09:45", "anna", "10", "min"],
        ["2", "2024-05-02", "14:53", "2024-05-02", "15:04", "ben", "10", "min"],
    ]
    rows = list(csv.reader(io.StringIO(ok(footbath(place.config, "history", "--cleaning", "--csv")))))
    assert rows[1] == ["1", "2024-05-01 09:34", "2024-05-01 09:45", "anna", "10 min"]


def test_history_of_a_real_session(place):
    service = place.serve(water_c=37.0)
    service.controller.handle("start", {"routine": "quick", "profile": "standard"})
    drive(service, lambda s: s["phase"] == "done")
    [row] = list(csv.DictReader(io.StringIO(ok(footbath(place.config, "history", "--csv")))))
    assert (row["routine"], row["profile"], row["outcome"], row["target_c"]) == (
        "quick", "standard", "done", "37.5")
    assert 34.0 < float(row["mean_c"]) <= float(row["peak_c"]) < 38.5


@pytest.mark.parametrize(("args", "says"), [
    (["history"], "footbath: no journal yet at "),
    (["history", "--since", "May"], "footbath: --since 'May' is not a date; use YYYY-MM-DD"),
])
def test_history_errors_are_one_line(place, args, says):
    assert one_line_error(footbath(place.config, *args)).startswith(says)


# -- heater-off ---------------------------------------------------------------------------------

def test_heater_off_through_the_service_stops_the_session_and_every_output(place):
    service = place.serve(water_c=30.0)
    c = service.controller
    c.handle("start", {"routine": "quick", "profile": "standard"})
    assert drive(service, lambda s: s["heater"])["phase"] == "heating"
    assert ok(footbath_process(place.config, "heater-off")) == \
        "every output is off (the service switched them off)\n"
    status = c.status()
    assert (status["phase"], status["heater"], status["pump"], status["vibration_pct"]) == (
        "stopped", False, False, 0)
    assert "heater-off" in status["note"]
    rig = service.sim.rig
    assert not rig.heater_on and not rig.pump_on
    for _ in range(100):  # and nothing switches back on
        service.step_simulation()
        assert not rig.heater_on and not rig.pump_on and rig.vibration_pct == 0
    [(outcome,)] = c.journal.db.execute("SELECT outcome FROM sessions").fetchall()
    assert outcome == "stopped"


def test_heater_off_drives_the_pins_when_the_service_is_dead(place):
    config = sensor_config(place, 36.0)
    out = ok(footbath(config, "heater-off"))
    assert out.startswith("every output is off (driven directly: the service is not running)")


def test_heater_off_on_a_simulated_bath_with_no_service(place):
    out = ok(footbath(place.write_config("hardware: {simulate: true}\n", name="sim.yaml"), "heater-off"))
    assert out.startswith("the service is not running (")
    assert out.endswith("this is a simulated bath: no pins to drive\n")


def test_heater_off_with_a_broken_config_tries_the_default_socket(place):
    from kiosk.config import Paths

    if Paths().socket.exists():
        pytest.skip("a footbath service runs on this machine")
    broken = place.dir / "broken.yaml"
    broken.write_text("bath:\n  heater_w: lots\n  litres: 0\n")
    result = footbath_process(broken, "heater-off")
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == "footbath: the config has errors:"
    assert lines[1].startswith(f"{broken}:2:13: bath.heater_w: ")
    assert lines[2].startswith(f"{broken}:3:11: bath.litres: ")
    assert lines[3] == f"footbath: trying the default socket {Paths().socket}"
    assert len(lines) == 5 and lines[4].startswith("footbath: the footbath service is not running")
    assert lines[4].endswith("The pins are unknown while the config is broken: switch the heater off at "
                             "the mains")


def test_heater_off_that_cannot_drive_the_pins_says_to_use_the_mains(place):
    if importlib.util.find_spec("lgpio") is not None:
        pytest.skip("lgpio is installed: this test could drive real pins")
    config = place.write_config("hardware: {simulate: false, pin_factory: lgpio}\n", name="lgpio.yaml")
    line = one_line_error(footbath(config, "heater-off"))
    assert line.startswith("footbath: the footbath service is not running")
    assert "Driving the pins directly failed too: hardware.pin_factory 'lgpio' cannot be used here" in line
    assert line.endswith("Switch the heater off at the mains")


# -- errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", [["status"], ["status", "--json"], ["temp", "--watch"]])
def test_no_service_is_one_clear_line(place, command):
    config = place.config if command[0] == "status" else place.write_config(
        f"hardware: {{thermometer: {{devices_dir: {place.tmp / 'none'}}}}}\n", name="t.yaml")
    run = footbath_process if command == ["status"] else footbath
    line = one_line_error(run(config, *command))
    if command[0] == "status":
        assert line.startswith(f"footbath: the footbath service is not running (no answer on {place.socket})")


@pytest.mark.processes
def test_a_socket_that_is_not_permitted_is_one_clear_line(place):
    place.serve()
    assert stat.S_IMODE(place.socket.stat().st_mode) == 0o660  # the service's group only
    if os.geteuid() == 0:
        # Root passes any file mode: the socket goes to another owner and group (as for a user
        # outside the footbath group), and the command runs without root's override of modes.
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("setpriv (util-linux) is needed to run a command without CAP_DAC_OVERRIDE")
        os.chown(place.socket, NOBODY, NOBODY)
        caps = "-dac_override,-dac_read_search"
        result = subprocess.run(
            [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}", sys.executable, "-m", "kiosk.cli",
             "--config", str(place.config), "status"],
            cwd=ROOT, env=env_for_cli(), capture_output=True, text=True, timeout=DEADLINE_S)
    else:
        place.socket.chmod(0)
        result = footbath_process(place.config, "status")
    line = one_line_error(result)
    assert line.startswith(f"footbath: not permitted to use {place.socket}; add your user to the "
                           "footbath group")
    assert place.service.controller.status()["phase"] == "idle"  # the service did not notice


# -- config check and PINs ----------------------------------------------------------------------

def test_config_check_summarises_a_valid_config(place):
    config = place.write_config("bath: {litres: 6, heater_w: 300, ceiling_c: 39.5}\n"
                                "hardware:\n  pump: {pin: 27}\n  float_switch: {pin: 24}\n")
    assert ok(footbath(config, "config", "check")).splitlines() == [
        f"{config}: ok",
        "  bath: 6 L, 300 W heater, ceiling 39.5 C",
        "  heater on GPIO 17 (active low); also fitted: pump, float_switch",
        f"  routines: {place.routines}; journal: {place.state}; socket: {place.socket}",
    ]


def test_config_check_locates_every_problem(place):
    bad = place.dir / "bad.yaml"
    bad.write_text("bath:\n  ceiling_c: 45\nhardware:\n  pump: {pin: 17}\n")
    result = footbath(bad, "config", "check")
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("footbath: the config file has errors")
    assert lines[1].startswith(f"{bad}:2:14: bath.ceiling_c: ")
    assert lines[2].startswith(f"{bad}:4:15: hardware.pump.pin: GPIO 17 is also the heater")


def test_pin_set_list_and_remove(place):
    assert ok(footbath(place.config, "pin", "list")) == \
        "no staff PINs set; set one with `footbath pin set`\n"
    out = ok(footbath_process(place.config, "pin", "set", "--name", "anna", input="4321\n4321\n"))
    store = PinStore(place.state)
    assert out == f"PIN for anna saved (as a salted hash) in {store.path}\n"
    assert ok(footbath(place.config, "pin", "set", input="98765\n98765\n")).startswith("PIN for staff saved")
    stored = json.loads(store.path.read_text())
    assert sorted(stored) == ["anna", "staff"]
    assert all(value.startswith("scrypt$") and value.count("$") == 5 for value in stored.values())
    assert not {"4321", "98765"} & {part for value in stored.values() for part in value.split("$")}
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert (store.who("4321"), store.who("98765"), store.who("1234")) == ("anna", "staff", None)
    assert ok(footbath(place.config, "pin", "list")) == "anna\nstaff\n"

    assert ok(footbath(place.config, "pin", "remove", "anna")) == "PIN for anna removed\n"
    assert ok(footbath(place.config, "pin", "list")) == "staff\n"
    assert one_line_error(footbath(place.config, "pin", "remove", "anna")) == \
        "footbath: no PIN for 'anna'; staff with PINs: staff"


@pytest.mark.parametrize(("typed", "says"), [
    ("1234\n4321\n", "footbath: the two PINs differ; nothing changed"),
    ("12\n12\n", "footbath: a PIN is 4 to 8 digits"),
    ("1234\n", "footbath: no PIN given on standard input"),
])
def test_a_pin_that_cannot_be_used_changes_nothing(place, typed, says):
    assert one_line_error(footbath(place.config, "pin", "set", input=typed)) == says
    assert PinStore(place.state).names() == []
