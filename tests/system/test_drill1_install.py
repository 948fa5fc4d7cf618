"""Drills 1 and 2 of the system tests: footbath installed on a fresh Debian the way a spa
installs it (systemd/install.sh --wheels, no network), a second run that changes nothing,
`footbath doctor` on the result; then the units as systemd runs them: Type=notify, the
exposure systemd-analyze gives the running units, and the sandbox tried from inside."""

import re

from kiosk import doctor
from tests.system.bath import Bath
from tests.system.installed import GUEST_INSTALLER, GUEST_WHEELS

# What a second install.sh run is compared by: every file, folder and link it could touch,
# with its kind, mode, owner, size, link target and, for files and links, both their times (a
# file written again, even with the same bytes, gets a new mtime; one chmod-ed or chown-ed a
# new ctime). A folder's times are left out: systemd-sysusers takes its lock in /etc even
# when it has nothing to do, and a file that stays made or removed shows as a line anyway.
WATCHED = ("/etc", "/opt/footbath", "/usr/local")
FINGERPRINT = ("find " + " ".join(WATCHED) + r" -xdev \( -type d -printf '%p %y %m %u:%g\n' \) -o "
               r"-printf '%p %y %m %u:%g %s %l %T@ %C@\n' | sort")

# The doctor's checks a VM cannot pass, and why: it is a PC under QEMU, not a Raspberry Pi.
NOT_ON_A_VM = {
    "1-Wire overlay": ("fail", "no /boot/firmware/config.txt: that is the Pi's firmware partition"),
    "1-Wire bus": ("warn", "the bus is a folder the test writes, so the kernel's w1_therm is not loaded"),
    "clock": ("warn", "the VM has no network, so no time server"),
    "CPU temperature": ("warn", "QEMU's PC has no thermal zone"),
    "power": ("warn", "no Pi firmware to ask for under-voltage (get_throttled)"),
}
CHECK_NAMES = [name for name, _ in doctor.CHECKS]
DOCTOR_LINE = re.compile(r"^  (pass|warn|fail)  (.{17})(.*)$")


def doctor_report(text: str) -> dict[str, tuple[str, str]]:
    """name -> (status, first line of the detail), from `footbath doctor`'s output."""
    found = {}
    for line in text.splitlines():
        match = DOCTOR_LINE.match(line)
        if match and match[2].strip() in CHECK_NAMES:
            found[match[2].strip()] = (match[1], match[3].strip())
    return found


def actions(output: str) -> list[str]:
    return [line[2:] for line in output.splitlines() if line.startswith("+ ")]


def test_drill_1_install_on_a_fresh_system_a_second_run_and_the_doctor(installed_vm, installed_system,
                                                                      figures):
    vm, m = installed_vm, installed_system.manifest
    first = m["install_stdout"]
    assert m["install_rc"] == 0, first
    # Offline: pip looked in the wheel directory only (and the guest has no network at all).
    assert f"footbath install: offline, Python packages from {GUEST_WHEELS} only" in first
    assert all("--no-index" in a for a in actions(first) if "/pip " in a)

    # What it made, looked at on a booted copy.
    assert re.search(r"^footbath:x:\d+:\d+:[^:]*:/var/lib/footbath:/usr/sbin/nologin$",
                     vm.run("getent passwd footbath").stdout, re.M)
    assert vm.run("getent passwd footbath-kiosk").stdout.startswith("footbath-kiosk:")
    assert re.match(r"footbath:x:\d+:footbath-kiosk$", vm.run("getent group footbath").stdout.strip())
    assert vm.run("getent group gpio").stdout.startswith("gpio:")
    packages = vm.run("/opt/footbath/venv/bin/pip list --disable-pip-version-check --format=freeze").stdout
    for name in ("footbath-kiosk", "gpiozero", "lgpio", "w1thermsensor", "Kivy", "paho-mqtt", "PyYAML"):
        assert re.search(rf"^{name}==", packages, re.M | re.I), f"{name} not in the venv:\n{packages}"
    assert vm.run("readlink /usr/local/bin/footbath").stdout.strip() == "/opt/footbath/venv/bin/footbath"
    assert vm.run("systemctl is-enabled footbath.service footbath-kiosk.service").stdout.split() == [
        "enabled", "enabled"]
    assert "+ install -m 0640 /share/systemd/config.yaml /etc/footbath/config.yaml" in first
    modes = vm.run("stat -c '%a %U:%G' /etc/footbath/config.yaml /etc/footbath/routines").stdout
    assert modes.split("\n")[:2] == ["640 root:footbath", "2775 root:footbath"]
    # The hardware watchdog's drop-in, in effect since the boot after the install.
    watchdog = vm.run("cat /etc/systemd/system.conf.d/footbath-watchdog.conf").stdout
    assert "RuntimeWatchdogSec=15s" in watchdog
    assert vm.run("systemctl show -P RuntimeWatchdogUSec").stdout.strip() == "15s"
    # The GPIO chip is the gpio group's (install.sh's udev rule), as on Raspberry Pi OS.
    assert vm.run("stat -c '%a %G' /dev/gpiochip0").stdout.strip() == "660 gpio"

    # A second run: the same command, the same wheels. Nothing in /etc, /opt/footbath or
    # /usr/local changes, down to the file times.
    before = vm.run(FINGERPRINT, timeout_s=120).stdout
    second = vm.run(["sh", GUEST_INSTALLER, "--wheels", GUEST_WHEELS], cwd="/root", timeout_s=600)
    after = vm.run(FINGERPRINT, timeout_s=120).stdout
    changed = sorted(set(before.splitlines()) ^ set(after.splitlines()))
    assert changed == [], "the second run changed:\n" + "\n".join(changed[:40])
    assert "kept as it is (staff file)" in second.stdout
    again = actions(second.stdout)
    # Only tools that change nothing when there is nothing to change run again.
    assert [a.split()[0].rsplit("/", 1)[-1] for a in again] == [
        "systemd-sysusers", "pip", "systemctl", "systemctl"], again
    assert "footbath-kiosk is already installed with the same version" in second.stdout
    figures.append(f"drill 1 install: first run {m['install_guest_s']:.0f} s, {len(actions(first))} actions; "
                   f"second run {second.duration_s:.0f} s, {len(again)} actions ({'; '.join(again)}), "
                   f"0 of {len(before.splitlines())} paths in {', '.join(WATCHED)} changed (times included)")

    # The doctor, as staff run it after the install (the service runs since the boot).
    Bath(vm).wait_service()
    ran = vm.run("footbath doctor", timeout_s=120, check=False)
    report = doctor_report(ran.stdout)
    assert set(report) == set(CHECK_NAMES), ran.stdout
    failed_here = {name: status for name, (status, _) in report.items() if status != "pass"}
    assert failed_here == {name: status for name, (status, _) in NOT_ON_A_VM.items()}, ran.stdout
    assert ran.rc == 1  # the 1-Wire overlay's failure: the VM boots no config.txt
    print(ran.stdout)
    figures.append(f"drill 1 doctor: {len(report) - len(failed_here)} of {len(report)} checks pass; "
                   + "; ".join(f"{name} {status}s: {why}" for name, (status, why) in NOT_ON_A_VM.items()))
    for name in ("pins", "GPIO chips", "pin factory", "thermometer", "service"):
        figures.append(f"    doctor {name}: {report[name][1]}")
