"""Drill 2 of the system tests: the units as systemd runs them on the installed system.
footbath.service becomes active through Type=notify (the controller's READY=1, not the exec);
`systemd-analyze security` of the running units is at or below what tests/test_systemd.py
claims of the unit files; and the controller's sandbox, tried from inside by a probe the unit
itself runs (an ExecStartPost= drop-in shares ExecStart's user, namespaces, device policy and
system-call filter), can write only its own directories and cannot open /dev/mem."""

import json
import re

from tests.system.bath import UNIT, Bath
from tests.system.installed import GUEST_DRILL, STATE_DIR
from tests.system.vm import GuestCommandError
from tests.test_systemd import TARGETS

KIOSK = "footbath-kiosk.service"
PROBE_OUT = f"{STATE_DIR}/sandbox-probe.json"
DROP_IN = "/run/systemd/system/footbath.service.d/zz-sandbox-probe.conf"
# Where the controller may write: its state directory (journal, PINs), its runtime directory
# (the API socket) and the private /tmp and /var/tmp that PrivateTmp= gives it alone.
MAY_WRITE = ("/var/lib/footbath", "/run/footbath", "/tmp", "/var/tmp")
MAY_NOT_WRITE = ("/", "/etc", "/etc/footbath", "/etc/footbath/routines", "/etc/systemd/system",
                 "/opt/footbath/venv/bin", "/usr/local/bin", "/var/lib", "/var/log", "/var/cache",
                 "/root", "/home", "/boot", "/srv", "/run", "/dev/shm", "/dev/mqueue")
# /dev/mem: root's alone anyway; /dev/fuse is open to every user (0666), so only the unit's
# DevicePolicy=closed refuses it; /dev/gpiochip0 is the one device class allowed (and needed).
DEVICES_REFUSED = ("/dev/mem", "/dev/fuse")
DEVICES_ALLOWED = ("/dev/gpiochip0", "/dev/null")


def exposure(vm, unit: str) -> float:
    done = vm.run(["systemd-analyze", "security", "--no-pager", unit], timeout_s=120, check=False)
    match = re.search(rf"Overall exposure level for {re.escape(unit)}: ([0-9.]+)", done.stdout)
    assert match, f"no exposure level for {unit}:\n{done.stdout}{done.stderr}"
    return float(match[1])


def test_drill_2_notify_security_and_the_sandbox_tried_from_inside(installed_vm, figures):
    vm = installed_vm
    bath = Bath(vm)
    bath.wait_service()

    # Type=notify: active when the controller said READY=1 (after its first reading and the
    # socket), later than the exec; the kiosk is started after it.
    unit = bath.unit("Type", "ActiveState", "SubState", "NotifyAccess", "ExecMainStartTimestampMonotonic",
                     "ActiveEnterTimestampMonotonic", "StatusText")
    assert (unit["Type"], unit["ActiveState"], unit["SubState"]) == ("notify", "active", "running"), unit
    exec_s = int(unit["ExecMainStartTimestampMonotonic"]) / 1e6
    ready_s = int(unit["ActiveEnterTimestampMonotonic"]) / 1e6
    assert ready_s > exec_s, unit
    journal = vm.run(f"journalctl -b -u {UNIT} -o cat --no-pager", check=False).stdout
    assert "Started footbath.service" in journal or "Started footbath bath controller" in journal, journal

    # The exposure systemd gives the running units, no worse than the unit files' offline figures.
    measured = {name: exposure(vm, name) for name in TARGETS}
    for name, target in TARGETS.items():
        assert measured[name] <= target, f"{name}: exposure {measured[name]} on the running system, " \
                                         f"tests/test_systemd.py claims {target}"

    # The sandbox, from inside.
    paths = [f"{p}/" for p in MAY_WRITE + MAY_NOT_WRITE] + list(DEVICES_REFUSED + DEVICES_ALLOWED)
    probe = f"ExecStartPost=/usr/bin/python3 {GUEST_DRILL} sandbox {PROBE_OUT} {' '.join(paths)}\n"
    vm.run(f"mkdir -p $(dirname {DROP_IN}) && printf '[Service]\\n%s' '{probe}' > {DROP_IN} && "
           "systemctl daemon-reload")
    try:
        vm.run(f"rm -f {PROBE_OUT}")
        try:
            bath.restart()
        except GuestCommandError as e:
            log = vm.run(f"journalctl -u {UNIT} -n 30 --no-pager", check=False).stdout
            raise AssertionError(f"the unit did not start with the probe: {e}\n{log}") from None
        seen = json.loads(vm.run(f"cat {PROBE_OUT}").stdout)
    finally:
        vm.run(f"rm -f {DROP_IN} {PROBE_OUT} && systemctl daemon-reload && "
               f"(systemctl is-active --quiet {UNIT} || systemctl restart {UNIT})",
               check=False, timeout_s=120)
    assert seen["uid"] == int(vm.run("id -u footbath").stdout), seen
    allowed = {p: seen["write"][p] for p in MAY_WRITE}
    assert all(v == "ok" for v in allowed.values()), allowed
    refused = {p: seen["write"][p] for p in MAY_NOT_WRITE}
    assert not [p for p, v in refused.items() if v == "ok"], refused
    assert all(seen["open"][d] != "ok" for d in DEVICES_REFUSED), seen["open"]
    assert all(seen["open"][d] == "ok" for d in DEVICES_ALLOWED), seen["open"]
    # The private /tmp is not the system's: nothing the probe wrote there (it deletes its files,
    # so look for the folder systemd made for it) is shared.
    assert vm.run("ls -d /tmp/systemd-private-*-footbath.service-*", check=False).rc == 0

    figures.append(f"drill 2 units: {UNIT} Type=notify, exec to READY=1 {ready_s - exec_s:.1f} s (guest); "
                   + "; ".join(f"exposure {n} {measured[n]} (claimed <= {TARGETS[n]})" for n in TARGETS))
    figures.append("drill 2 sandbox: writes " + ", ".join(f"{p} {v}" for p, v in allowed.items())
                   + "; refused in " + ", ".join(f"{p} {v.split()[0]}" for p, v in refused.items())
                   + "; devices " + ", ".join(f"{d} {v}" for d, v in seen["open"].items()))
