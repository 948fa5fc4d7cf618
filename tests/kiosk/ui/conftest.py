"""Fixtures for the touchscreen tests: a window check first, then kiosks to tap through.

Kivy ends the whole process with status 102 and no test summary when it cannot open a window,
so before the first test that needs one, a child process tries; when it fails, those tests fail
with the reason instead. The pure tests (flow, cues, words) need no window.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

PROBE = """
from kiosk.ui.main import configure
configure(fullscreen=False)
from kivy.base import EventLoop
EventLoop.ensure_window()
print("window", *EventLoop.window.size)
"""


def window_problem() -> str | None:
    """Why Kivy cannot open a window in this environment, or None when it can."""
    # With Kivy's own log on (uncoloured): it says which window providers it tried and why.
    env = {k: v for k, v in os.environ.items() if k not in ("KIVY_NO_CONSOLELOG", "COLORTERM")}
    env["TERM"] = "dumb"
    try:
        done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return "opening a Kivy window did not finish within 120 s"
    if done.returncode == 0 and done.stdout.startswith("window"):
        return None
    tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
    return (f"Kivy cannot open a window here (exit status {done.returncode}). The tests run it "
            "off-screen with SDL_VIDEODRIVER=offscreen, which needs Mesa's software GL: install "
            "Debian's libgl1 libegl1 libgl1-mesa-dri (and libmtdev1), or run under Xvfb. "
            f"Kivy said:\n{tail}")


@pytest.fixture(scope="session")
def window():
    problem = window_problem()
    if problem:
        pytest.fail(problem, pytrace=False)
    from kiosk.ui.main import configure

    configure(fullscreen=False)  # a test that opens the window here opens it as the kiosk does


@pytest.fixture
def open_kiosk(window):
    """Open OffscreenKiosks (a real service on the simulated bath and the real app); every one
    is closed after the test, whatever happened."""
    from kiosk.ui.harness import OffscreenKiosk

    opened = []

    def open_one(**kwargs) -> OffscreenKiosk:
        kiosk = OffscreenKiosk(**kwargs)
        opened.append(kiosk)
        kiosk.wait_screen("home")
        kiosk.wait_for(lambda: kiosk.app.routines, what="the routines from the controller")
        kiosk.settle()
        return kiosk

    yield open_one
    for kiosk in opened:
        kiosk.close()


@pytest.fixture
def kiosk(open_kiosk):
    """A kiosk on the home screen, cleaning not required, the water filled in at 37 C: a session
    is under way after a short warm-up (the walk through every routine warms from 30 C)."""
    return open_kiosk(water_c=37.0)
