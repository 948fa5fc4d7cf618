"""systemd/install.sh, run for real into a directory tree (--root), twice, and with --dry-run;
and the config file it installs."""

import dataclasses
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import typing
import zipfile
from pathlib import Path

import pytest

from kiosk import config as config_module
from kiosk.config import Config, parse_config
from tests.samples import MORNING_ROUTINE

pytestmark = pytest.mark.processes  # the installer, run by the shell

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "systemd/install.sh"
TEMPLATE = REPO / "systemd/config.yaml"
UNITS = ("footbath.service", "footbath-kiosk.service")
STAFF_ROUTINE = MORNING_ROUTINE


def shell() -> str:
    """dash where there is one: the script must keep to POSIX sh."""
    return shutil.which("dash") or "sh"


def install(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    for tool in ("systemd-sysusers", "systemctl"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: the installer needs it; install the Debian package systemd")
    environment = {k: v for k, v in os.environ.items() if k != "SUDO_USER"}
    environment.update(env or {})
    return subprocess.run([shell(), str(SCRIPT), "--python", sys.executable, *args], capture_output=True,
                          text=True, timeout=120, env=environment, cwd=cwd)


def installed(root: Path, *args: str) -> subprocess.CompletedProcess:
    done = install("--root", str(root), *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path in the tree: its kind, mode, and contents or link target (not its times)."""
    found = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        if path.is_symlink():
            found[str(path.relative_to(root))] = ("link", str(path.readlink()))
        elif path.is_dir():
            found[str(path.relative_to(root))] = ("dir", oct(st.st_mode))
        else:
            found[str(path.relative_to(root))] = ("file", oct(st.st_mode), path.read_bytes())
    return found


def actions(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("+ ")]


# -- a real install into a tree ---------------------------------------------------------------

def test_an_install_makes_the_users_the_command_the_config_and_enabled_units(tmp_path):
    installed(tmp_path)
    passwd = (tmp_path / "etc/passwd").read_text()
    assert re.search(r"^footbath:x:\d+:\d+:[^:]*:/var/lib/footbath:/usr/sbin/nologin$", passwd, re.M)
    assert re.search(r"^footbath-kiosk:x:\d+:\d+:", passwd, re.M)
    group = (tmp_path / "etc/group").read_text()
    assert re.search(r"^footbath:x:\d+:footbath-kiosk$", group, re.M)
    assert re.search(r"^gpio:x:\d+:", group, re.M)
    for unit in UNITS:
        assert (tmp_path / "etc/systemd/system" / unit).read_text() == (REPO / "systemd" / unit).read_text()
        link = tmp_path / "etc/systemd/system/multi-user.target.wants" / unit
        assert str(link.readlink()) == f"/etc/systemd/system/{unit}"
    assert (tmp_path / "etc/footbath/config.yaml").read_text() == TEMPLATE.read_text()
    assert oct((tmp_path / "etc/footbath/config.yaml").stat().st_mode & 0o777) == "0o640"
    assert (tmp_path / "etc/footbath/routines").stat().st_mode & 0o7777 == 0o2775
    assert str((tmp_path / "usr/local/bin/footbath").readlink()) == "/opt/footbath/venv/bin/footbath"
    watchdog = tmp_path / "etc/systemd/system.conf.d/footbath-watchdog.conf"
    assert "RuntimeWatchdogSec=15s" in watchdog.read_text()
    rule = (tmp_path / "etc/udev/rules.d/90-footbath-backlight.rules").read_text()
    assert 'SUBSYSTEM=="backlight"' in rule and "chgrp footbath-kiosk /sys%p/brightness" in rule
    # Plain Debian leaves the GPIO chips to root: the service's gpio group gets them, as on
    # Raspberry Pi OS (the system tests' Debian showed it: the controller could not start).
    gpio = (tmp_path / "etc/udev/rules.d/90-footbath-gpio.rules").read_text()
    assert 'SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"' in gpio


def test_the_installed_command_runs_and_accepts_the_installed_config(tmp_path):
    installed(tmp_path)
    command = tmp_path / "opt/footbath/venv/bin/footbath"
    done = subprocess.run([str(command), "--config", str(tmp_path / "etc/footbath/config.yaml"), "config",
                           "check"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "heater on GPIO 17 (active low)" in done.stdout


def test_a_second_run_changes_nothing_and_never_touches_staff_files(tmp_path):
    first = installed(tmp_path)
    config = tmp_path / "etc/footbath/config.yaml"
    config.write_text("bath:\n  ceiling_c: 38.5\n")  # the staff's own settings
    config.chmod(0o600)
    routine = tmp_path / "etc/footbath/routines/morning.yaml"
    routine.write_text(STAFF_ROUTINE)
    stamps = {p: p.stat().st_mtime_ns for p in (config, routine)}
    before = snapshot(tmp_path)
    second = installed(tmp_path)
    assert snapshot(tmp_path) == before
    assert {p: p.stat().st_mtime_ns for p in (config, routine)} == stamps
    assert "kept as it is (staff file)" in second.stdout
    # Only the idempotent tools run again; nothing is copied or written a second time.
    assert [a.split()[1] for a in actions(second.stdout)] == ["systemd-sysusers", "systemctl"]
    assert len(actions(first.stdout)) > len(actions(second.stdout))


def test_an_update_replaces_the_units_but_not_the_config(tmp_path):
    installed(tmp_path)
    unit = tmp_path / "etc/systemd/system/footbath.service"
    unit.write_text("[Service]\nExecStart=/bin/true\n")  # an old version
    config = tmp_path / "etc/footbath/config.yaml"
    config.write_text("kiosk:\n  language: de\n")
    done = installed(tmp_path)
    assert unit.read_text() == (REPO / "systemd/footbath.service").read_text()
    assert config.read_text() == "kiosk:\n  language: de\n"
    assert f"+ install -D -m 0644 {REPO}/systemd/footbath.service {unit}" in done.stdout


def test_staff_are_added_to_the_footbath_group(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("anna:x:1000:1000:Anna:/home/anna:/bin/bash\n")
    (tmp_path / "etc/group").write_text("anna:x:1000:\n")
    installed(tmp_path, "--staff", "anna")
    assert re.search(r"^footbath:x:\d+:(.*,)?anna(,|$)", (tmp_path / "etc/group").read_text(), re.M)
    again = installed(tmp_path, "--staff", "anna")
    assert "= anna is in the footbath group" in again.stdout


def test_the_user_running_sudo_is_the_staff_by_default(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("pi:x:1000:1000::/home/pi:/bin/bash\n")
    done = install("--root", str(tmp_path), env={"SUDO_USER": "pi"})
    assert done.returncode == 0, done.stderr
    assert re.search(r"^footbath:x:\d+:(.*,)?pi(,|$)", (tmp_path / "etc/group").read_text(), re.M)


def test_an_unknown_staff_user_is_refused(tmp_path):
    done = install("--root", str(tmp_path), "--staff", "nobody-here")
    assert done.returncode == 1 and "--staff nobody-here: no such user" in done.stderr


def test_the_boot_config_line_is_printed_until_it_is_there(tmp_path):
    done = installed(tmp_path, "--w1-pin", "17")
    assert "dtoverlay=w1-gpio,gpiopin=17" in done.stdout
    boot = tmp_path / "boot/firmware/config.txt"
    boot.parent.mkdir(parents=True)
    boot.write_text("dtparam=audio=on\n[all]\ndtoverlay=w1-gpio,gpiopin=17\n")
    done = installed(tmp_path)
    assert f"= 1-Wire bus: {boot} has dtoverlay=w1-gpio,gpiopin=17" in done.stdout
    assert "Add this line" not in done.stdout
    assert boot.read_text() == "dtparam=audio=on\n[all]\ndtoverlay=w1-gpio,gpiopin=17\n"  # only read


def test_a_desktop_that_holds_the_screen_is_pointed_out(tmp_path):
    units = tmp_path / "etc/systemd/system"
    units.mkdir(parents=True)
    (units / "display-manager.service").symlink_to("/usr/lib/systemd/system/lightdm.service")
    assert "a desktop is enabled and holds the screen" in installed(tmp_path).stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--w1-pin", "40"], "is not a BCM GPIO number"),
    (["--purge"], "--purge goes with --uninstall"),
    (["--from", "/nonexistent/footbath.whl"], "no such wheel"),
    (["--from", "/"], "has no pyproject.toml"),
    (["--bogus"], "unknown option: --bogus"),
])
def test_bad_options_are_refused_before_anything_happens(tmp_path, args, message):
    done = install("--root", str(tmp_path), *args)
    assert done.returncode == 1 and message in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_help():
    done = install("--help")
    assert done.returncode == 0
    for option in ("--root DIR", "--dry-run", "--uninstall", "--purge", "--from PATH", "--staff USER",
                   "--wheels DIR"):
        assert option in done.stdout


# -- dry runs ---------------------------------------------------------------------------------

def test_a_dry_run_into_a_tree_prints_every_action_and_changes_nothing(tmp_path):
    done = installed(tmp_path, "--dry-run")
    assert list(tmp_path.iterdir()) == []
    out = done.stdout
    assert "(dry run: nothing is changed)" in out
    for action in (f"+ install -D -m 0644 {REPO}/systemd/footbath.sysusers "
                   f"{tmp_path}/etc/sysusers.d/footbath.conf",
                   f"+ systemd-sysusers --root={tmp_path} footbath.conf",
                   f"+ write {tmp_path}/opt/footbath/venv/bin/footbath (mode 0755):",
                   f"+ install -m 0640 {REPO}/systemd/config.yaml {tmp_path}/etc/footbath/config.yaml",
                   f"+ install -d -m 2775 {tmp_path}/etc/footbath/routines",
                   f"+ install -D -m 0644 {REPO}/systemd/footbath.service "
                   f"{tmp_path}/etc/systemd/system/footbath.service",
                   f"+ systemctl --root={tmp_path} enable footbath.service footbath-kiosk.service",
                   "- /opt/footbath/venv/bin/pip install --disable-pip-version-check --upgrade",
                   "# skipped: --root",
                   "dtoverlay=w1-gpio,gpiopin=4"):
        assert action in out


def test_a_dry_run_on_this_system_changes_nothing(tmp_path):
    watched = [Path(p) for p in ("/opt/footbath", "/etc/footbath", "/etc/sysusers.d/footbath.conf",
                                 "/etc/systemd/system/footbath.service", "/usr/local/bin/footbath")]
    before = {p: p.exists() for p in watched}
    done = install("--dry-run")
    assert done.returncode == 0, done.stderr
    assert {p: p.exists() for p in watched} == before
    out = done.stdout
    assert "footbath install: from" in out and "into / (dry run: nothing is changed)" in out
    for action in ("+ systemd-sysusers footbath.conf", "-m venv /opt/footbath/venv",
                   "+ /opt/footbath/venv/bin/pip install --disable-pip-version-check --upgrade "
                   f"'{REPO}[pi,mqtt]'",
                   "+ systemctl daemon-reload", "+ systemctl enable footbath.service footbath-kiosk.service"):
        assert action in out


# -- offline: a directory of wheels (--wheels) -----------------------------------------------

FOOTBATH_WHEEL = "footbath_kiosk-0.1.0-py3-none-any.whl"
CP = f"cp{sys.version_info[0]}{sys.version_info[1]}"
HERE_KIVY = f"Kivy-2.3.1-{CP}-{CP}-manylinux_2_17_{platform.machine()}.manylinux2014_{platform.machine()}.whl"
PIP = "/opt/footbath/venv/bin/pip install --disable-pip-version-check"


def wheel_dir(path: Path, *names: str) -> Path:
    """A wheel directory as tools/wheels.sh leaves one; the files are stand-ins, never installed here
    (the installer's pip only runs outside --root and --dry-run)."""
    path.mkdir(parents=True)
    for name in names:
        (path / name).write_bytes(f"stand-in for {name}".encode())
    return path


def footbath_zip(path: Path) -> Path:
    """footbath's packages zipped under a wheel's name: enough for the --root launcher to run."""
    with zipfile.ZipFile(path, "w") as whl:
        for package in ("kiosk", "routines", "hardware"):
            for file in sorted((REPO / package).rglob("*")):
                if file.is_file() and "__pycache__" not in file.parts:
                    whl.write(file, str(file.relative_to(REPO)))
    return path


def test_a_dry_run_with_a_wheel_directory_installs_footbath_and_everything_from_it_alone(tmp_path):
    wheels = wheel_dir(tmp_path / "wheels", FOOTBATH_WHEEL, HERE_KIVY)
    done = install("--dry-run", "--wheels", "wheels", cwd=tmp_path)  # relative: made absolute
    assert done.returncode == 0, done.stderr
    out = done.stdout
    wheel = wheels / FOOTBATH_WHEEL
    assert f"footbath install: from {wheel} into / (dry run" in out
    assert f"footbath install: offline, Python packages from {wheels} only" in out
    offline = f"{PIP} --no-index --find-links {wheels}"
    assert f"+ {offline} --upgrade '{wheel}[pi,mqtt]'" in out
    # The same version as one installed before is installed all the same: a rebuilt wheel.
    assert f"+ {offline} --no-deps --force-reinstall {wheel}" in out
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert f"+ write /opt/footbath/venv/footbath-wheel.sha256 (mode 0644):\n    {digest}\n" in out
    pip = [a for a in actions(out) if "/pip " in a]
    assert len(pip) == 2 and all(offline in a for a in pip)


def test_with_a_wheel_directory_from_still_names_footbath(tmp_path):
    wheels = wheel_dir(tmp_path / "wheels", HERE_KIVY)  # no footbath wheel needed: --from gives it
    done = install("--dry-run", "--wheels", str(wheels), "--from", str(REPO), "--extras", "pi")
    assert done.returncode == 0, done.stderr
    # A checkout is built by pip with setuptools and wheel from DIR (tools/wheels.sh puts them there).
    assert f"+ {PIP} --no-index --find-links {wheels} --upgrade '{REPO}[pi]'" in done.stdout
    assert "--force-reinstall" not in done.stdout


def test_a_tree_installed_from_a_wheel_directory_runs_footbath_from_its_wheel(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel = footbath_zip(wheels / FOOTBATH_WHEEL)
    root = tmp_path / "root"
    root.mkdir()
    done = installed(root, "--wheels", str(wheels))
    assert (f"- {PIP} --no-index --find-links {wheels} --upgrade '{wheel}[pi,mqtt]'    # skipped: --root"
            in done.stdout)
    launcher = root / "opt/footbath/venv/bin/footbath"
    assert f"PYTHONPATH={wheel} " in launcher.read_text()
    ran = subprocess.run([str(launcher), "--help"], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": ""})
    assert ran.returncode == 0 and "usage: footbath" in ran.stdout, ran.stderr
    assert [a.split()[1] for a in actions(installed(root, "--wheels", str(wheels)).stdout)] == [
        "systemd-sysusers", "systemctl"]  # a second run changes nothing here either


@pytest.mark.parametrize(("names", "message"), [
    (None, "is not a directory: make one on a machine with network with sh tools/wheels.sh DIR"),
    ((), "has no footbath wheel (footbath_kiosk-*.whl): make the directory with sh tools/wheels.sh"),
    ((FOOTBATH_WHEEL, "footbath_kiosk-0.0.9-py3-none-any.whl"), "holds 2 footbath wheels"),
])
def test_a_wheel_directory_without_one_footbath_wheel_is_refused(tmp_path, names, message):
    wheels = tmp_path / "wheels" if names is None else wheel_dir(tmp_path / "wheels", *names)
    root = tmp_path / "root"
    root.mkdir()
    done = install("--root", str(root), "--wheels", str(wheels))
    assert done.returncode == 1 and message in done.stderr
    assert list(root.iterdir()) == []


@pytest.mark.parametrize("kivy", [
    f"Kivy-2.3.1-{CP}-{CP}-manylinux_2_17_otherarch.manylinux2014_otherarch.whl",  # another machine
    f"Kivy-2.3.1-cp39-cp39-manylinux_2_17_{platform.machine()}.whl",  # another Python
])
def test_a_wheel_directory_for_another_machine_is_refused_before_anything(tmp_path, kivy):
    wheels = wheel_dir(tmp_path / "wheels", FOOTBATH_WHEEL, kivy)
    done = install("--dry-run", "--wheels", str(wheels))
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert done.returncode == 1, done.stdout
    assert f"has no wheels for this machine (CPython {version} on {platform.machine()}), e.g. {kivy}" \
        in done.stderr
    assert f"sh tools/wheels.sh --arch {platform.machine()} --python-version {version} DIR" in done.stderr
    assert "+ " not in done.stdout


def test_a_wheel_directory_for_this_and_another_machine_is_taken(tmp_path):
    other = "Kivy-2.3.1-cp311-cp311-manylinux_2_17_otherarch.whl"
    wheels = wheel_dir(tmp_path / "wheels", FOOTBATH_WHEEL, other, HERE_KIVY,
                       f"lgpio-0.2.2.0-cp38-abi3-manylinux_2_34_{platform.machine()}.whl")
    assert install("--dry-run", "--wheels", str(wheels)).returncode == 0


# -- tools/wheels.sh: what it refuses without the network -----------------------------------

WHEEL_TOOL = REPO / "tools/wheels.sh"


def wheel_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([shell(), str(WHEEL_TOOL), "--python", sys.executable, *args], capture_output=True,
                          text=True, timeout=60)


def test_the_wheel_tool_says_how_it_is_used():
    done = wheel_tool("--help")
    assert done.returncode == 0
    for words in ("Usage: sh tools/wheels.sh [OPTIONS] DIR", "--arch ARCH", "aarch64", "--python-version X.Y",
                  "--glibc X.Y", "sudo sh systemd/install.sh --wheels DIR"):
        assert words in done.stdout


@pytest.mark.parametrize(("args", "message"), [
    ((), "give the directory to fill"),
    (("--arch", "armv7l", "w"), "have no 32-bit ARM wheels; use 64-bit Raspberry Pi OS and --arch aarch64"),
    (("--arch", "riscv64", "w"), "give x86_64 or aarch64"),
    (("--python-version", "3.9", "w"), "needs CPython 3.11 or newer"),
    (("--glibc", "2", "w"), "give X.Y, e.g. 2.36"),
    (("a", "b"), "one DIR only"),
    (("--bogus", "w"), "unknown option: --bogus"),
])
def test_the_wheel_tool_refuses_bad_options_before_anything(tmp_path, args, message):
    done = subprocess.run([shell(), str(WHEEL_TOOL), *args], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    assert done.returncode == 1 and message in done.stderr
    assert list(tmp_path.iterdir()) == []


# -- uninstalling -----------------------------------------------------------------------------

def test_uninstall_keeps_the_journal_and_the_staff_files_unless_purged(tmp_path):
    installed(tmp_path)
    journal = tmp_path / "var/lib/footbath/journal.sqlite3"
    journal.parent.mkdir(parents=True)
    journal.write_bytes(b"sessions")
    (tmp_path / "etc/footbath/routines/morning.yaml").write_text(STAFF_ROUTINE)
    dry = installed(tmp_path, "--uninstall", "--dry-run")
    assert "+ rm -rf" in dry.stdout and (tmp_path / "opt/footbath").exists()
    done = installed(tmp_path, "--uninstall")
    assert not (tmp_path / "opt/footbath").exists()
    assert not (tmp_path / "usr/local/bin/footbath").is_symlink()
    assert not any((tmp_path / "etc/systemd").rglob("footbath*"))
    assert not (tmp_path / "etc/udev/rules.d/90-footbath-backlight.rules").exists()
    assert not (tmp_path / "etc/udev/rules.d/90-footbath-gpio.rules").exists()
    assert journal.read_bytes() == b"sessions"
    assert (tmp_path / "etc/footbath/routines/morning.yaml").read_text() == STAFF_ROUTINE
    assert "kept: the journal and the staff PINs" in done.stdout
    purged = installed(tmp_path, "--uninstall", "--purge")
    assert not journal.exists() and not (tmp_path / "etc/footbath").exists()
    assert not (tmp_path / "etc/sysusers.d/footbath.conf").exists()
    assert "- userdel footbath    # skipped: --root" in purged.stdout


# -- the config file it installs --------------------------------------------------------------

def keys(cls) -> set[str]:
    """Every key a config section (a dataclass) accepts, nested ones included."""
    found = set()
    hints = typing.get_type_hints(cls, vars(config_module))
    for f in dataclasses.fields(cls):
        if f.name == "file":
            continue
        found.add(f.name)
        for kind in typing.get_args(hints[f.name]) or (hints[f.name],):
            if dataclasses.is_dataclass(kind):
                found |= keys(kind)
    return found


def test_the_installed_config_is_the_defaults_and_names_every_key():
    text = TEMPLATE.read_text()
    assert dataclasses.replace(parse_config(text, str(TEMPLATE)), file=None) == Config()
    every = keys(Config)
    assert {"routines_dir", "ceiling_c", "sensor_id", "float_switch", "keepalive_s"} <= every
    missing = {key for key in every if not re.search(rf"(^|[\s{{#]){key}:", text, re.M)}
    assert missing == set()


def test_the_commented_examples_in_the_config_are_valid():
    text = TEMPLATE.read_text()
    devices = re.sub(r"(?m)^  # (\w+: \{)", r"  \1", text)
    hw = parse_config(devices, "devices").hardware
    assert {n: (getattr(hw, n).pin, getattr(hw, n).active_high) for n in
            ("heater", "pump", "vibration", "buzzer", "stop_button", "float_switch")} == {
        "heater": (17, False), "pump": (27, False), "vibration": (18, True), "buzzer": (22, True),
        "stop_button": (23, False), "float_switch": (24, False)}
    mqtt = re.sub(r"(?m)^# (mqtt:|  \w+:)", r"\1", text.replace("\nmqtt: null\n", "\n"))
    assert parse_config(mqtt, "mqtt").mqtt.host == "broker.spa.lan"
