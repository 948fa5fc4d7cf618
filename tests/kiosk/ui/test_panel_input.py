"""Where the kiosk's touches come from. Full screen (the Pi, on KMS/DRM) Kivy reads the panel
itself, through probesysfs and mtdev: Kivy makes touches of SDL2's finger events on Android
and iOS only, and SDL2 on KMS/DRM makes no mouse events of a touchscreen's, so with SDL2 as
the only source a customer's taps reached nothing (the system tests' touchscreen drill,
tests/system/test_drill3_kiosk.py, tapped a card and the screen stayed). Windowed, the
window's own events serve. Checked in a child process: Kivy's config is the process's, and
these tests' window is already open."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

PROBE = """
import json, sys
from kiosk.ui.main import configure
configure(fullscreen=sys.argv[1] == "full")
from kivy.config import Config
from kivy.input.factory import MotionEventFactory
import kivy.input.providers  # registers the providers this machine can run
print(json.dumps({"input": dict(Config.items("input")),
                  "mtdev": MotionEventFactory.get("mtdev") is not None}))
"""


def input_config(mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, mode], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_full_screen_reads_the_panel_through_mtdev_and_nothing_else():
    probed = input_config("full")
    assert probed["input"] == {"panel_%(name)s": "probesysfs,provider=mtdev"}
    # Without libmtdev Kivy falls back on hidinput, which drops protocol B panels' touches.
    assert probed["mtdev"], "Kivy cannot load libmtdev.so.1: install Debian's libmtdev1"


def test_a_window_takes_no_touch_device_of_its_own():
    assert input_config("window")["input"] == {}
