"""footbath installed on the system-test image, once, the way the README tells a spa to: the
wheel directory made on the host by tools/wheels.sh, then `sh systemd/install.sh --wheels DIR`
run in a freshly booted guest with no network. Then the set-up a spa's staff would do (the
config), and what stands in for the Pi's hardware (see below); then a clean power-off. The
result is a qcow2 disk the drills boot copies of (vm.overlay), so the install (minutes of
emulated CPU) runs once, and is cached like the image: in the system-test cache, under
installs/<key>, the key a checksum of the image's key, the wheels' contents, systemd/ and
this file. The install's own output is kept beside the disk (install.json) for drill 1.

What the test writes into the guest and a Pi does not need (never shipped by the installer):

- /etc/footbath-test/cpuinfo and a drop-in binding it over /proc/cpuinfo for
  footbath.service (BindReadOnlyPaths=): gpiozero's lgpio pin factory asks /proc/cpuinfo
  (or the device tree) which Raspberry Pi it runs on, and raises PinUnknownPi on a PC. The
  file carries a Pi 4's Revision line; a real Pi has the real one.
- a fake 1-Wire bus under /run/footbath-test/w1, made at every boot by a tmpfiles.d entry
  with one DS18B20 reading 30 C, as the w1-gpio overlay would show one in /sys/bus/w1/devices;
  the drills rewrite its w1_slave (hardware/w1file.py's format, which the real w1thermsensor
  code accepts). Why /run: footbath.service runs as the user footbath with
  ProtectSystem=strict (every path read-only except its own directories), ProtectHome=yes
  (no /root, no /home) and PrivateTmp=yes (a /tmp of its own, so the test's /tmp is not the
  one it sees); /run is a tmpfs it can read, written by root only, and like sysfs it starts
  empty at every boot: nothing of a bus survives a power cut, as on a Pi.
- the config: lgpio on the gpio-sim chip (hardware.gpio_chip: 0), simulate: false, every
  output active-high (so that on means a high line, and off is also what a released
  gpio-sim line reads: its pull-down), the STOP button, cleaning not required (sessions back
  to back).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from hardware.w1file import MASTER, w1_slave
from tests.system import image as image_module
from tests.system.vm import VM, writable_copy

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DRILL_SCRIPT = HERE / "drill_guest.py"

GUEST_SHARE = "/share"
GUEST_WHEELS = f"{GUEST_SHARE}/wheels"
GUEST_INSTALLER = f"{GUEST_SHARE}/systemd/install.sh"
GUEST_DRILL = f"{GUEST_SHARE}/drill_guest.py"

GPIO_CHIP = 0
SENSOR_ID = "28-000000f00ba7"
W1_DIR = "/run/footbath-test/w1"
W1_SLAVE = f"{W1_DIR}/{MASTER}/{SENSOR_ID}/w1_slave"
START_C = 30.0  # what the probe says at every boot
# Config name -> BCM pin. Every output active-high in the guest's config.
OUTPUTS = {"heater": 17, "safety_relay": 25, "pump": 27, "vibration": 18, "buzzer": 22}
STOP_PIN = 23
STATE_DIR = "/var/lib/footbath"
JOURNAL_DB = f"{STATE_DIR}/journal.sqlite3"

CONFIG_YAML = f"""\
# System tests: the staff's config on the VM (see tests/system/installed.py).
hardware:
  simulate: false
  pin_factory: lgpio
  gpio_chip: {GPIO_CHIP}                 # the gpio-sim chip, lines GPIO0..GPIO27
  thermometer:
    devices_dir: {W1_DIR}
  heater: {{pin: {OUTPUTS['heater']}, active_high: true}}
  safety_relay: {{pin: {OUTPUTS['safety_relay']}, active_high: true}}
  pump: {{pin: {OUTPUTS['pump']}, active_high: true}}
  vibration: {{pin: {OUTPUTS['vibration']}, active_high: true}}
  buzzer: {{pin: {OUTPUTS['buzzer']}, active_high: true}}
  stop_button: {{pin: {STOP_PIN}}}
cleaning:
  required: false
"""

# A Raspberry Pi 4 Model B (revision c03114) as its /proc/cpuinfo ends.
FAKE_CPUINFO = """\
processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41
CPU part\t: 0xd08

Hardware\t: BCM2835
Revision\t: c03114
Serial\t\t: 10000000f00ba7f0
Model\t\t: Raspberry Pi 4 Model B Rev 1.4
"""

DROP_IN = """\
# System tests only (tests/system/installed.py), never installed on a Pi: gpiozero's lgpio pin
# factory reads the board's revision from /proc/cpuinfo and refuses a PC. A Pi 4's stands in.
[Service]
BindReadOnlyPaths=/etc/footbath-test/cpuinfo:/proc/cpuinfo
"""


def _escaped(text: str) -> str:
    """A tmpfiles.d argument: C escapes for the newlines."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def tmpfiles_conf() -> str:
    """The fake 1-Wire bus at every boot: one DS18B20 at START_C, laid out as the kernel does."""
    sensor = f"{W1_DIR}/{MASTER}/{SENSOR_ID}"
    return "\n".join([
        "# System tests only: a fake 1-Wire bus, as /sys/bus/w1/devices shows one "
        "(tests/system/installed.py).",
        f"d {W1_DIR} 0755 root root -",
        f"d {W1_DIR}/{MASTER} 0755 root root -",
        f"f {W1_DIR}/{MASTER}/w1_master_slaves 0444 root root - {_escaped(SENSOR_ID + chr(10))}",
        f"f {W1_DIR}/{MASTER}/w1_master_slave_count 0444 root root - 1\\n",
        f"d {sensor} 0755 root root -",
        f"f {sensor}/name 0444 root root - {_escaped(SENSOR_ID + chr(10))}",
        f"f {sensor}/w1_slave 0444 root root - {_escaped(w1_slave(START_C))}",
        f"L {W1_DIR}/{SENSOR_ID} - - - - {MASTER}/{SENSOR_ID}",
        "",
    ])


SETUP_SCRIPT = """\
set -eu
S=/share/setup
install -D -m 0644 $S/cpuinfo /etc/footbath-test/cpuinfo
install -D -m 0644 $S/footbath-test.conf /etc/systemd/system/footbath.service.d/footbath-test.conf
install -D -m 0644 $S/tmpfiles.conf /etc/tmpfiles.d/footbath-test.conf
install -m 0640 -o root -g footbath $S/config.yaml /etc/footbath/config.yaml
systemd-tmpfiles --create /etc/tmpfiles.d/footbath-test.conf
systemctl daemon-reload
/opt/footbath/venv/bin/footbath config check
"""

WHEELS_TIMEOUT_S = 600
INSTALL_TIMEOUT_S = 1200  # a cold install under TCG took 2-3.5 min here
LOCK_TIMEOUT_S = 1800
KEEP_INSTALLS = 2


class InstallError(RuntimeError):
    """The wheels could not be made or the install failed; the message says where to look."""


@dataclass(frozen=True)
class Installed:
    disk: Path  # qcow2, footbath installed and set up, cleanly powered off: boot overlays of it
    key: str
    cached: bool  # found in the cache (made by an earlier run) rather than now
    manifest: dict  # install.json: the install's output, its times, the wheels


def make_share(folder: Path) -> Path:
    """A share for the drills' VMs: systemd/ as in the checkout (install.sh, units, config
    template) and the guest's drill script. The wheels go in by make_wheels()."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)  # the guest's footbath user runs drill_guest.py from it (9p shows host modes)
    shutil.copytree(REPO / "systemd", folder / "systemd", dirs_exist_ok=True)
    shutil.copyfile(DRILL_SCRIPT, folder / "drill_guest.py")
    return folder


def make_wheels(folder: Path, log=print) -> tuple[float, str]:
    """tools/wheels.sh FOLDER: footbath's wheel and its dependencies' for the guest (CPython
    3.11 on x86_64, Bookworm's glibc), as a spa makes them for an offline Pi. (seconds, output)"""
    started = time.monotonic()
    try:
        done = subprocess.run(["sh", str(REPO / "tools/wheels.sh"), str(folder)], capture_output=True,
                              text=True, timeout=WHEELS_TIMEOUT_S, check=False, cwd=REPO)
    except subprocess.TimeoutExpired:
        raise InstallError(f"tools/wheels.sh took over {WHEELS_TIMEOUT_S} s (it downloads from PyPI)") \
            from None
    if done.returncode != 0:
        raise InstallError(f"tools/wheels.sh failed (exit {done.returncode}): it needs network for "
                           f"PyPI\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    seconds = time.monotonic() - started
    log(f"wheels: {done.stdout.strip().splitlines()[-2]}")
    return seconds, done.stdout


def wheels_digest(folder: Path) -> str:
    """The wheels' contents (each file's name, size and CRC inside each wheel), not their bytes:
    a wheel rebuilt from unchanged sources has new timestamps and the same digest."""
    digest = hashlib.sha256()
    for wheel in sorted(folder.glob("*.whl")):
        digest.update(wheel.name.encode() + b"\0")
        with zipfile.ZipFile(wheel) as z:
            for info in sorted(z.infolist(), key=lambda i: i.filename):
                digest.update(f"{info.filename}\0{info.file_size}\0{info.CRC}\0".encode())
    return digest.hexdigest()


def install_key(image: image_module.Image, wheels: Path) -> str:
    digest = hashlib.sha256()
    digest.update(image.manifest["key"].encode() + b"\0")
    digest.update(wheels_digest(wheels).encode() + b"\0")
    for path in [*sorted((REPO / "systemd").iterdir()), Path(__file__).resolve()]:
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _load(folder: Path, key: str, image: image_module.Image) -> Installed | None:
    manifest_path, disk = folder / "install.json", folder / "disk.qcow2"
    if not (manifest_path.is_file() and disk.is_file() and image.disk.is_file()
            and (folder / "wheels").is_dir()):
        return None
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("image_disk") != str(image.disk):  # an overlay needs its backing file
        return None
    return Installed(disk=disk, key=key, cached=True, manifest=manifest)


def ensure(image: image_module.Image, share: Path, *, workdir: Path, log=print) -> Installed:
    """The installed disk for this image and the wheels in share/wheels: from the cache, or
    made now (a boot, the install, the set-up, a clean power-off)."""
    key = install_key(image, share / "wheels")
    root = image_module.cache_root() / "installs"
    root.mkdir(parents=True, exist_ok=True)
    with image_module.locked(root / "install.lock", timeout_s=LOCK_TIMEOUT_S, error=InstallError,
                             hint="another run installing the same disk hung?"):
        found = _load(root / key, key, image) or _install(image, share, key, root, workdir, log)
    _use_wheels_of(found, share)
    return found


def _use_wheels_of(installed: Installed, share: Path) -> None:
    """The share's wheels become the very files the disk was installed from: a wheel built again
    from the same sources differs in its bytes (file times), and install.sh rightly replaces
    an installed footbath with any wheel that is not the one it installed."""
    wheels = share / "wheels"
    shutil.rmtree(wheels)
    shutil.copytree(installed.disk.parent / "wheels", wheels)


def _install(image, share: Path, key: str, root: Path, workdir: Path, log) -> Installed:
    started = time.monotonic()
    building = root / f"{key}.partial-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir()
    disk = writable_copy(image, building / "disk.qcow2")
    setup = share / "setup"
    setup.mkdir(exist_ok=True)
    (setup / "cpuinfo").write_text(FAKE_CPUINFO)
    (setup / "footbath-test.conf").write_text(DROP_IN)
    (setup / "tmpfiles.conf").write_text(tmpfiles_conf())
    (setup / "config.yaml").write_text(CONFIG_YAML)
    (setup / "setup.sh").write_text(SETUP_SCRIPT)
    vm = VM(image, disk=disk, share=share, workdir=workdir, log=log)
    try:
        boot = vm.boot()
        # lgpio and pip work in the current folder: /root, never the 9p share.
        done = vm.run(["sh", GUEST_INSTALLER, "--wheels", GUEST_WHEELS], cwd="/root",
                      timeout_s=INSTALL_TIMEOUT_S, check=False)
        if done.rc != 0:
            raise InstallError(f"install.sh --wheels failed in the guest (exit {done.rc}); serial log "
                               f"{vm.serial_log}\n{done.stdout[-4000:]}{done.stderr[-2000:]}")
        configured = vm.run(["sh", "/share/setup/setup.sh"], timeout_s=120)
        stop = vm.shutdown(timeout_s=120)
    finally:
        vm.close()
    manifest = {
        "key": key, "image_key": image.manifest["key"], "image_disk": str(image.disk),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "build_s": round(time.monotonic() - started, 1),
        "boot_host_s": round(boot.host_s, 1), "boot_uptime_s": round(boot.uptime_s, 1),
        "install_guest_s": round(done.duration_s, 1), "install_rc": done.rc,
        "install_stdout": done.stdout, "install_stderr": done.stderr,
        "setup_stdout": configured.stdout,
        "poweroff_host_s": round(stop.host_s, 1),
        "wheels": sorted(p.name for p in (share / "wheels").glob("*.whl")),
    }
    (building / "install.json").write_text(json.dumps(manifest, indent=1) + "\n")
    shutil.copytree(share / "wheels", building / "wheels")
    final = root / key
    shutil.rmtree(final, ignore_errors=True)
    building.rename(final)
    _prune(root, keep=key)
    return Installed(disk=final / "disk.qcow2", key=key, cached=False, manifest=manifest)


def _prune(root: Path, *, keep: str):
    """Delete all but the KEEP_INSTALLS newest installed disks, and partial ones of dead runs."""
    folders = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
    kept = 0
    for folder in folders:
        if ".partial-" in folder.name:
            pid = folder.name.rsplit("-", 1)[1]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                shutil.rmtree(folder, ignore_errors=True)
            continue
        if folder.name == keep or kept < KEEP_INSTALLS - 1:
            kept += folder.name != keep
            continue
        shutil.rmtree(folder, ignore_errors=True)
