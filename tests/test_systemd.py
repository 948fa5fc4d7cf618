"""The systemd units, checked by systemd's own tools: `systemd-analyze verify` must have nothing
to say, and `systemd-analyze security --offline=true` must keep each unit's exposure at or
below its target. Also: what the units promise that those tools cannot check (fail-safe
settings, the kiosk's environment), the generated wiring diagram, and the test names the
safety notes cite."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.service import LOOP_TIMEOUT_S

REPO = Path(__file__).resolve().parents[1]
SYSTEMD = REPO / "systemd"
TARGETS = {"footbath.service": 2.5, "footbath-kiosk.service": 5.0}
EXECUTABLE = "/opt/footbath/venv/bin/footbath"
VENDOR_UNITS = (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system"))
UNHARDENED = "[Service]\nExecStart=/opt/footbath/venv/bin/footbath serve\n"


def systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.fail("systemd-analyze is missing: these tests need it; install the Debian package "
                    "systemd (apt-get install systemd)")
    return path


def analyze(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([systemd_analyze(), "--no-pager", *args], capture_output=True, text=True,
                          timeout=60)


@pytest.fixture
def tree(tmp_path):
    """A root for `--root`: systemd's own units (the targets ours are ordered against), ours
    installed in /etc/systemd/system, and an executable where ExecStart looks."""
    vendor = next((d for d in VENDOR_UNITS if (d / "sysinit.target").exists()), None)
    if vendor is None:
        pytest.fail(f"no systemd units in {' or '.join(map(str, VENDOR_UNITS))}: install the Debian "
                    "package systemd")
    units = tmp_path / "usr/lib/systemd/system"
    units.mkdir(parents=True)
    for unit in vendor.iterdir():  # regular files only: their symlinks point outside the tree
        if unit.is_file() and not unit.is_symlink():
            shutil.copy(unit, units / unit.name)
    for name in TARGETS:
        install(tmp_path, name, (SYSTEMD / name).read_text())
    launcher = tmp_path / EXECUTABLE.lstrip("/")
    launcher.parent.mkdir(parents=True)
    launcher.write_text(f"#!/bin/sh\nPYTHONPATH={REPO} exec {sys.executable} -m kiosk.cli \"$@\"\n")
    launcher.chmod(0o755)
    return tmp_path


def install(root: Path, name: str, text: str) -> None:
    path = root / "etc/systemd/system" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def exposure(root: Path, name: str) -> float:
    done = analyze("security", "--offline=true", f"--root={root}", name)
    match = re.search(rf"Overall exposure level for {re.escape(name)}: ([0-9.]+)", done.stdout)
    assert match, f"no exposure level in the output of systemd-analyze security:\n{done.stdout}{done.stderr}"
    return float(match[1])


def directives(name: str) -> dict[str, list[str]]:
    """KEY -> every value it is given, across sections (a unit may repeat a key)."""
    found: dict[str, list[str]] = {}
    for line in (SYSTEMD / name).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


# -- systemd's verdict ------------------------------------------------------------------------

@pytest.mark.parametrize("name", TARGETS)
def test_systemd_analyze_verify_has_nothing_to_say(tree, name):
    done = analyze("verify", f"--root={tree}", name)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


@pytest.mark.parametrize(("name", "target"), TARGETS.items())
def test_the_exposure_stays_at_or_below_its_target(tree, name, target):
    level = exposure(tree, name)
    print(f"{name}: exposure {level}")
    assert level <= target, f"{name} is exposed {level}, above its target {target}: harden it again"


def test_the_safety_notes_quote_the_measured_exposure(tree):
    text = " ".join((REPO / "docs/safety.md").read_text().split())
    quoted = re.search(r"The controller's sandbox scores ([0-9.]+) .* the kiosk's ([0-9.]+) \(target", text)
    assert quoted, "docs/safety.md no longer quotes the units' exposure"
    assert (float(quoted[1]), float(quoted[2])) == (exposure(tree, "footbath.service"),
                                                    exposure(tree, "footbath-kiosk.service"))


def test_verify_and_security_would_see_a_bad_unit(tree):
    install(tree, "broken.service", (SYSTEMD / "footbath.service").read_text().replace(
        "Type=notify", "Type=notify\nWatchdogSecs=10s"))
    done = analyze("verify", f"--root={tree}", "broken.service")
    assert "Unknown key" in done.stdout + done.stderr and "WatchdogSecs" in done.stdout + done.stderr
    install(tree, "bare.service", UNHARDENED)
    assert exposure(tree, "bare.service") == 9.6  # the figure the issue quotes for no hardening
    (tree / EXECUTABLE.lstrip("/")).unlink()
    done = analyze("verify", f"--root={tree}", "footbath.service")
    assert "is not executable" in done.stdout + done.stderr


# -- what the units promise ------------------------------------------------------------------

def test_the_controller_unit_fails_safe():
    d = directives("footbath.service")
    assert d["Type"] == ["notify"]
    assert d["ExecStart"] == [f"{EXECUTABLE} serve"]
    assert d["ExecStopPost"] == [f"{EXECUTABLE} heater-off"]  # no "-": a failure shows
    assert d["Restart"] == ["always"]
    assert d["StartLimitIntervalSec"] == ["0"]  # never gives up: every start is locked anyway
    watchdog_s = float(d["WatchdogSec"][0].removesuffix("s"))
    assert 5 * LOOP_TIMEOUT_S <= watchdog_s <= 30  # the loop pings every LOOP_TIMEOUT_S at most
    assert float(d["TimeoutStopSec"][0].removesuffix("s")) <= 15  # a hung stop is cut short
    assert d["User"] == ["footbath"] and d["Group"] == ["footbath"]
    assert d["SupplementaryGroups"] == ["gpio"]
    assert d["DevicePolicy"] == ["closed"] and d["DeviceAllow"] == ["char-gpiochip rw"]
    # ExecStopPost runs in the same sandbox: it must still reach the pins and lgpio's work dir.
    assert "PrivateDevices" not in d
    # /dev stays writable under ProtectSystem=strict: not its shared memory (tests/system, drill 2).
    assert d["InaccessiblePaths"] == ["-/dev/shm -/dev/mqueue"]
    assert d["ReadOnlyPaths"] == ["/etc/footbath"]  # the routines folder is group footbath's
    assert d["WorkingDirectory"] == ["%S/footbath"] and "LG_WD=%S/footbath" in d["Environment"]
    assert (d["RuntimeDirectory"], d["StateDirectory"], d["ConfigurationDirectory"]) == (
        ["footbath"], ["footbath"], ["footbath"])
    assert d["WantedBy"] == ["multi-user.target"]


def test_the_controller_socket_and_journal_match_the_config_defaults():
    from kiosk.config import Paths

    paths = Paths()
    assert paths.socket.parent == Path("/run") / directives("footbath.service")["RuntimeDirectory"][0]
    assert paths.state_dir == Path("/var/lib") / directives("footbath.service")["StateDirectory"][0]
    assert paths.routines_dir.parent == Path("/etc") / directives("footbath.service")[
        "ConfigurationDirectory"][0]


def test_the_kiosk_unit_owns_the_console_and_logs_to_the_journal():
    d = directives("footbath-kiosk.service")
    assert d["ExecStart"] == [f"{EXECUTABLE} kiosk"]
    assert d["Restart"] == ["always"]
    assert "footbath.service" in d["After"][0].split() and d["Wants"] == ["footbath.service"]
    assert d["Conflicts"] == ["getty@tty1.service"]  # no console login fighting for the screen
    assert d["TTYPath"] == ["/dev/tty1"] and d["StandardInput"] == ["tty"]
    env = dict(e.split("=", 1) for e in d["Environment"])
    assert env["SDL_VIDEODRIVER"] == "kmsdrm"
    assert env["KIVY_NO_FILELOG"] == "1"
    assert env["KIVY_HOME"].startswith("%S/footbath-kiosk/") and d["StateDirectory"] == ["footbath-kiosk"]
    assert d["User"] == ["footbath-kiosk"]
    assert set(d["SupplementaryGroups"][0].split()) == {"footbath", "video", "render", "input", "audio"}
    assert set(d["DeviceAllow"]) == {"char-drm rw", "char-input r", "char-alsa rw", "/dev/tty1 rw"}


def test_the_units_run_what_the_installer_installs():
    script = (SYSTEMD / "install.sh").read_text()
    venv = re.search(r"^VENV=\$PREFIX/(\S+)", script, re.M)[1]
    prefix = re.search(r"^PREFIX=(\S+)", script, re.M)[1]
    assert f"{prefix}/{venv}/bin/footbath" == EXECUTABLE
    for name in TARGETS:
        assert name in re.search(r'^UNITS="([^"]+)"', script, re.M)[1]


# -- the wiring diagram and the safety notes --------------------------------------------------

@pytest.mark.processes
def test_the_committed_wiring_diagram_and_table_are_what_the_generator_writes(tmp_path):
    out = tmp_path / "wiring.svg"
    done = subprocess.run([sys.executable, str(REPO / "tools/wiring_diagram.py"), "-o", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert out.read_text() == (REPO / "docs/wiring.svg").read_text(), \
        "docs/wiring.svg is stale: run python tools/wiring_diagram.py"
    table = subprocess.run([sys.executable, str(REPO / "tools/wiring_diagram.py"), "--table"],
                           capture_output=True, text=True, timeout=60, check=True).stdout
    assert table in (REPO / "docs/wiring.md").read_text(), \
        "the pinout table in docs/wiring.md is stale: paste python tools/wiring_diagram.py --table"


def test_the_diagram_shows_every_device_on_its_configured_pin():
    sys.path.insert(0, str(REPO / "tools"))
    try:
        import wiring_diagram as wd
    finally:
        sys.path.remove(str(REPO / "tools"))
    config = wd.shipped_with_every_device()
    table = wd.pinout_table(config)
    for name in ("heater", "pump", "vibration", "buzzer", "stop_button", "float_switch"):
        pin = getattr(config.hardware, name).pin
        assert re.search(rf"\| {wd.physical(pin)} \| GPIO{pin} \| `hardware.{name}: ", table), name
    assert "| 7 | GPIO4 | `dtoverlay=w1-gpio`" in table
    other = wd.pinout_table(config, w1_pin=17)
    assert "| 11 | GPIO17 | `dtoverlay=w1-gpio`" in other  # the probe follows gpiopin
    svg = wd.svg(config)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    for words in ("4.7 kOhm pull-up", "Thermal cut-out", "manual reset, about", "RCD / GFCI",
                  "emergency stop", "a floating input = off"):
        assert words in svg


def test_every_test_the_safety_notes_cite_exists_where_they_say():
    text = (REPO / "docs/safety.md").read_text()
    cited = set(re.findall(r"`(test_\w+)`", text))
    assert len(cited) > 40
    where: dict[str, set[str]] = {}
    for path in (REPO / "tests").rglob("test_*.py"):
        for name in re.findall(r"^def (test_\w+)", path.read_text(), re.M):
            where.setdefault(name, set()).add(str(path.relative_to(REPO / "tests")))
    assert cited - set(where) == set()
    # A name followed by "(dir/file.py" or ", dir/file.py" is defined in that file.
    annotated = re.findall(r"`(test_\w+)`(?:\s+\(|,\s+)(?:tests/)?([\w/]+\.py)", text)
    assert len(annotated) > 20
    for name, file in annotated:
        assert file in where[name], (name, file)
