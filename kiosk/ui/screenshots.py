"""Every screen at 800x480, from one scripted session on the simulated bath.

`python -m kiosk.ui.screenshots --out DIR` (and `footbath screenshots --out DIR`) runs the real
app against the real controller off-screen, taps through a session as a customer would, then
breaks the thermometer, signs a staff member in, starts the cleaning cycle and stops the
controller, saving a PNG of each screen on the way. The bath is seeded and stepped by hand,
so every run shows the same session.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import traceback
from pathlib import Path

from ..errors import KioskError

# The order they are taken in; the README shows home, warm, soak, step, done and fault.
SHOTS = ("home", "health", "fill", "warm", "ready", "soak", "soak_paused", "step_prompt", "step",
         "step_timed", "done", "fault", "pin", "staff", "offline")
ROUTINE = "classic"
STAFF_NAME, STAFF_PIN = "anna", "2468"


def _offscreen_environment() -> None:
    """Kivy reads these when it is first imported: no window system, no config or logs written."""
    if "kivy" in sys.modules:
        return
    os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
    for name in ("KIVY_NO_ARGS", "KIVY_NO_CONFIG", "KIVY_NO_FILELOG", "KIVY_NO_CONSOLELOG"):
        os.environ.setdefault(name, "1")
    os.environ.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="footbath-kivy-"))


def take_screenshots(out_dir: Path, *, language: str = "en", seed: int = 0) -> list[Path]:
    """Render every screen to `out_dir/<name>.png` (names in SHOTS); returns the paths."""
    _offscreen_environment()
    from .harness import OffscreenKiosk

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with OffscreenKiosk(water_c=31.0, seed=seed, language=language) as k:
        k.app.screens["step"].animate_pace = False  # a still picture of the pacing ring
        camera = _Camera(k, out_dir)
        _session(k, camera)
        _fault_and_staff(k, camera)
        _offline(k, camera)
    return camera.taken


class _Camera:
    def __init__(self, kiosk, out_dir: Path):
        self.kiosk, self.out_dir = kiosk, out_dir
        self.taken: list[Path] = []

    def shot(self, name: str, *, settle: bool = True) -> None:
        """The screen as it is once the newest status is on it (and any fade is over)."""
        assert name in SHOTS, name
        k = self.kiosk
        if settle:
            k.settle()
        k.wait_for(lambda: not k.app.manager.transition.is_active, what="the end of the fade")
        self.taken.append(k.screenshot(self.out_dir / f"{name}.png"))


def _session(k, camera: _Camera) -> None:
    """A customer's classic session: home to done."""
    from .i18n import _

    k.wait_screen("home")
    k.wait_for(lambda: k.app.routines, what="the routines")
    k.step(3)  # the first readings of the water
    k.wait_for(lambda: k.status and k.status["water_c"] is not None, what="a water reading")
    camera.shot("home")
    home = k.app.screens["home"]
    k.tap(next(card for card in home.cards.children if card.routine_id == ROUTINE))
    k.wait_screen("health")
    camera.shot("health")
    k.tap_text(_("No, none apply"))
    k.wait_screen("fill")
    camera.shot("fill")
    k.tap_text(_("Continue"))
    k.wait_screen("warm")
    k.step(260)  # about four minutes of warming: a graph worth showing
    k.settle()
    k.wait_for(lambda: len(k.app.graph) > 20, what="the temperature graph")
    camera.shot("warm")
    k.run_until(lambda s: s["phase"] == "ready", what="the water at its target")
    k.settle()
    k.wait_screen("ready")
    camera.shot("ready")
    k.tap_text(_("Start"))
    k.wait_screen("soak")
    k.run_until(lambda s: s["phase"] == "soaking" and s["session"]["pause_reason"] is None
                and s["session"]["remaining_s"] < 450, what="the soak under way")
    camera.shot("soak")
    soak = k.app.screens["soak"]
    k.tap(soak.pause)
    k.wait_for(lambda: k.status["session"]["pause_reason"] == "user", what="the pause")
    camera.shot("soak_paused")
    k.tap(soak.pause)  # now Resume
    k.wait_for(lambda: k.status["session"]["pause_reason"] != "user", what="the resume")
    k.run_until(lambda s: s["phase"] == "steps", what="the massage steps")
    k.settle()
    k.wait_screen("step")
    camera.shot("step_prompt")  # dry your feet: it waits for a tap
    step = k.app.screens["step"]
    _next_step(k, step)
    k.run_until(lambda s: s["session"]["step_index"] == 1 and s["session"]["rep"] == 2
                and s["session"]["remaining_s"] % s["session"]["rep_s"] < 4, what="thumb walking, rep 2")
    camera.shot("step")
    while k.service.controller.status()["session"]["illustration"] != "toe_rotation":
        _next_step(k, step)
    k.step(14)
    camera.shot("step_timed")
    while k.service.controller.status()["phase"] == "steps":
        _next_step(k, step)
    k.wait_screen("done")
    camera.shot("done")
    k.tap_text(_("Finish"))
    k.wait_screen("home")


def _stage(status: dict) -> tuple:
    session = status["session"] or {}
    return status["phase"], session.get("step_index"), session.get("foot")


def _next_step(k, step_screen) -> None:
    """Tap Next and wait until the controller has moved on: the request travels on its own
    thread, and stepping the bath before it lands would make every run a little different."""
    before = _stage(k.service.controller.status())
    k.tap(step_screen.next_button)
    k.wait_for(lambda: _stage(k.service.controller.status()) != before, what="the next step")
    k.settle()


def _fault_and_staff(k, camera: _Camera) -> None:
    """The thermometer unplugged: the fault screen; then staff sign in and start cleaning."""
    k.service.controller.pins.set(STAFF_NAME, STAFF_PIN)
    k.service.sim.bath.unplug_sensor()
    k.run_until(lambda s: s["faults"], what="the thermometer fault")
    k.settle()
    k.wait_screen("fault")
    camera.shot("fault")
    for _ in range(5):  # the hidden staff entry: five quick taps on the top bar
        k.tap(k.app.bar)
    k.wait_screen("pin")
    for digit in STAFF_PIN:
        k.tap_text(digit)
    camera.shot("pin")
    k.tap_text("OK")
    k.wait_screen("staff")
    k.service.sim.bath.plug_sensor()
    staff = k.app.screens["staff"]
    for index in (0, 1, 2):  # start, then past draining and scrubbing to the disinfectant
        k.tap(staff.clean)
        k.wait_for(lambda index=index: (k.status.get("cleaning") or {}).get("index") == index,
                   what=f"cleaning step {index + 1}")
    k.step(100)  # part of the contact time gone
    camera.shot("staff")


def _offline(k, camera: _Camera) -> None:
    """The controller goes away: the kiosk says it is reconnecting."""
    k.app.close_staff()
    k.service.server.stop()
    k.wait_screen("offline")
    camera.shot("offline", settle=False)  # no status to wait for: that is the point


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="footbath screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the folder for the PNGs")
    parser.add_argument("--language", default="en", help="the kiosk's language (default: en)")
    args = parser.parse_args(argv)
    try:
        paths = take_screenshots(args.out, language=args.language)
    except (KioskError, AssertionError, OSError) as exc:
        # Kivy sends sys.stderr to its own log once it is imported: say it on the real one.
        print(f"footbath screenshots: {exc}", file=sys.__stderr__)
        return 1
    except Exception:
        traceback.print_exc(file=sys.__stderr__)
        return 1
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
