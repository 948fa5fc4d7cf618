"""The display drill's tools: drmshot.py (the screen read back through libdrm) and touch.py (a
uinput touchscreen) run in the guest; pictures.py judges pictures on both sides; reference.py
renders the same screens off-screen on the host; the helpers below run the guest's tools."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
GUEST_DISPLAY = "/share/display"
GUEST_OUT = "/share/out"
KIOSK = "footbath-kiosk.service"
SIZE = (1024, 768)  # vkms's connector
HOME_TIMEOUT_S = 240  # boot to the home screen, guest time under TCG (about 60 s here)


def share_tools(share: Path, reference: Path) -> Path:
    """Put the guest's tools and the reference grids in the share; the folder for captures."""
    shutil.copytree(HERE, share / "display", dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("home.grid.json", "health.grid.json"):
        shutil.copyfile(reference / name, share / "display" / name)
    out = share / "out"
    out.mkdir(exist_ok=True)
    return out


def wait_for_the_kiosk(vm, timeout_s: float) -> None:
    """Until the kiosk holds the display's card. Read the screen only after that: the first
    program to open a card is its DRM master, the one that may show anything on it, and that
    must be the kiosk (drmshot.py gives the role up at once, but the kiosk may open the card
    in that moment)."""
    vm.wait_until(f"pid=$(systemctl show -P MainPID {KIOSK}) && [ \"$pid\" -gt 0 ] && "
                  "ls -l /proc/$pid/fd | grep -q ' /dev/dri/card0$'", timeout_s=timeout_s, interval_s=0.2)


def units(vm) -> dict:
    """ActiveState, NRestarts and when it became active (guest uptime) of the controller and
    the kiosk now."""
    found = {}
    for unit in ("footbath.service", KIOSK):
        shown = vm.run(["systemctl", "show", "--property=ActiveState", "--property=NRestarts",
                        "--property=ActiveEnterTimestampMonotonic", unit]).stdout
        values = dict(line.split("=", 1) for line in shown.split())
        found[unit] = {"state": values["ActiveState"], "restarts": int(values["NRestarts"]),
                       "active_at_s": int(values["ActiveEnterTimestampMonotonic"]) / 1e6}
    return found


def watch(vm, like: str, out: str, timeout_s: float) -> dict:
    """drmshot.py watch in the guest: until the screen looks like the reference grid LIKE
    (home or health), saving what it showed last as OUT in the share's out/."""
    done = vm.run(["python3", f"{GUEST_DISPLAY}/drmshot.py", "watch", "--like",
                   f"{GUEST_DISPLAY}/{like}.grid.json", "--out", f"{GUEST_OUT}/{out}",
                   "--timeout-s", str(timeout_s)], timeout_s=timeout_s + 60, check=False)
    if done.rc not in (0, 3):
        raise AssertionError(f"drmshot.py failed (exit {done.rc}):\n{done.stdout}{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def kiosk_journal(vm) -> str:
    return vm.run(f"journalctl -b -u {KIOSK} --no-pager -o short-monotonic "
                  "| grep -v 'controller unavailable' | tail -n 60", check=False).stdout
