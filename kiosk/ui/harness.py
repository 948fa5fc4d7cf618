"""The kiosk off-screen against a real controller on the simulated bath, driven step by step.

Used by the tests, `footbath screenshots` and the UI benchmark. Kivy's event loop is pumped by
hand (`pump`), the simulated bath is advanced by hand (`step`), and taps are real touch events
delivered to the window, so what is tested is what a customer's finger does.

Needs SDL_VIDEODRIVER=offscreen (or a display) set before Kivy is first imported.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ..config import Cleaning, Config, Paths
from ..service import Service
from .main import configure


class OffscreenKiosk:
    """A real Service (simulated bath) and the real KioskApp in one process, hand-driven."""

    def __init__(self, *, config: Config | None = None, water_c: float = 30.0, seed: int = 0,
                 language: str = "en", cleaning_required: bool = False):
        self.tmp = tempfile.TemporaryDirectory(prefix="fbk")  # short: AF_UNIX paths are limited
        folder = Path(self.tmp.name)
        config = config or Config()
        paths = dataclasses.replace(config.paths if config.paths != Paths() else Paths(),
                                    routines_dir=config.paths.routines_dir
                                    if config.paths != Paths() else folder / "routines",
                                    state_dir=folder / "state", socket=folder / "api.sock")
        self.config = dataclasses.replace(config, paths=paths,
                                          cleaning=Cleaning(required=cleaning_required,
                                                            contact_s=config.cleaning.contact_s))
        self.service = Service(self.config, simulate=True, water_c=water_c, seed=seed)
        self.service.server.start()
        configure(fullscreen=False)
        from kivy.base import EventLoop
        from kivy.core.window import Window

        from .app import KioskApp

        self.EventLoop, self.Window = EventLoop, Window
        from .backlight import Backlight
        from .pace import FULL_FPS, FramePace

        # No panel light here: a harness run on a Pi must not dim its real screen. The loop is
        # pumped by hand, so it never idles slowly: each pump waits a full-rate frame at most.
        self.app = KioskApp(self.service.socket_path, language=language,
                            backlight=Backlight(folder / "no-backlight"),
                            pace=FramePace(idle_fps=FULL_FPS))
        EventLoop.ensure_window()
        self.app.root = self.app.build()
        Window.add_widget(self.app.root)
        self.app.on_start()
        self._shots: list[tuple[Path, Callable[[], None] | None]] = []
        Window.bind(on_flip=self._on_flip)

    # -- driving ------------------------------------------------------------------------------

    @property
    def screen(self) -> str:
        return self.app.manager.current

    @property
    def status(self) -> dict | None:
        return self.app.status

    def pump(self, frames: int = 1) -> None:
        """Run Kivy's loop for a few frames: callbacks from the link thread run here."""
        for _ in range(frames):
            self.EventLoop.idle()

    def wait_for(self, condition: Callable[[], bool], *, timeout_s: float = 10.0, what: str = "") -> None:
        """Pump until `condition()` holds; the link's replies arrive from another thread."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or condition}: screen {self.screen!r},"
                                     f" phase {(self.status or {}).get('phase')!r}")
            self.pump()

    def wait_screen(self, name: str, *, timeout_s: float = 10.0) -> None:
        self.wait_for(lambda: self.screen == name and not self.app.manager.transition.is_active,
                      timeout_s=timeout_s, what=f"screen {name!r}")

    def step(self, count: int = 1) -> float:
        """Advance the simulated bath `count` reads (about 0.9 s each); returns simulated time."""
        now = 0.0
        for _ in range(count):
            now = self.service.step_simulation()
        return now

    def run_until(self, condition: Callable[[dict], bool], *, max_steps: int = 20000,
                  what: str = "") -> dict:
        """Advance the bath until the controller's status satisfies `condition`."""
        for _ in range(max_steps):
            status = self.service.controller.status()
            if condition(status):
                return status
            self.step()
        raise AssertionError(f"the bath never reached {what or condition}")

    def settle(self) -> None:
        """Let the newest status reach the screen."""
        target = self.service.controller.status()["now_s"]
        self.wait_for(lambda: self.status is not None and self.status["now_s"] >= target,
                      what="the newest status on screen")
        self.pump(2)

    def tap(self, widget) -> None:
        """A finger on the middle of `widget`: touch down, touch up, then a frame."""
        from .fingertip import Fingertip

        touch = Fingertip(self.Window, *widget.to_window(*widget.center))
        self.EventLoop.post_dispatch_input("begin", touch)
        self.EventLoop.post_dispatch_input("end", touch)
        self.pump()

    def tap_text(self, text: str) -> None:
        """Tap the button labelled `text` on the current screen."""
        self.tap(self.button(text))

    def button(self, text: str):
        from .widgets import BigButton

        screen = self.app.manager.get_screen(self.screen)
        found = [w for w in screen.walk() if isinstance(w, BigButton) and w.text == text]
        if not found:
            labels = [w.text for w in screen.walk() if isinstance(w, BigButton)]
            raise AssertionError(f"no button {text!r} on {self.screen!r}; buttons: {labels}")
        return found[0]

    def texts(self) -> list[str]:
        from kivy.uix.label import Label

        screen = self.app.manager.get_screen(self.screen)
        return [w.text for w in screen.walk() if isinstance(w, Label) and w.text]

    # -- pictures -----------------------------------------------------------------------------

    def screenshot(self, path: Path) -> Path:
        """Draw a frame and save it as PNG (taken after the frame is flipped, so it is complete)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._shots.append((path, None))
        self.Window.canvas.ask_update()
        deadline = time.monotonic() + 10
        while self._shots and time.monotonic() < deadline:
            self.pump()
            self.Window.canvas.ask_update()
        return path

    def _on_flip(self, window, *_):
        if not self._shots:
            return
        path, _ = self._shots.pop(0)
        saved = window.screenshot(str(path))  # Kivy numbers the name: home.png -> home0001.png
        Path(saved).replace(path)

    def close(self) -> None:
        self.Window.unbind(on_flip=self._on_flip)
        self.Window.remove_widget(self.app.root)
        # The service first: its server drops the watch connection, which ends the link's
        # blocking read at once instead of at the next once-a-second push.
        self.service.close()
        self.app.on_stop()  # unbinds the app's touch handlers from the shared window
        self.tmp.cleanup()

    def __enter__(self) -> OffscreenKiosk:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
