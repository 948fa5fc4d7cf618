"""Start the touchscreen: Kivy set up for the official panel, then the app.

Kivy reads its settings when its window module is first imported, so everything here happens
before `app` is imported.
"""

from __future__ import annotations

import os
from pathlib import Path


def configure(*, fullscreen: bool, rotation: int = 0, width: int = 800, height: int = 480) -> None:
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")  # logs go to stderr, i.e. the journal
    from kivy.config import Config

    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))
    Config.set("graphics", "rotation", str(rotation))
    Config.set("graphics", "fullscreen", "auto" if fullscreen else "0")
    Config.set("graphics", "show_cursor", "0" if fullscreen else "1")
    Config.set("graphics", "resizable", "0")
    # No multisampling (Kivy asks for 2x): it doubled the cost of every frame drawn in software,
    # and the screens look the same without it (text is smoothed by the font renderer anyway).
    Config.set("graphics", "multisamples", "0")
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("kivy", "log_enable", "1")
    Config.set("kivy", "log_dir", "")
    # One touch source only: SDL2's own (on KMS/DRM it reads the panel through evdev). Kivy's
    # default providers (mouse, probesysfs) would deliver every tap a second time.
    for name, _ in list(Config.items("input")):
        Config.remove_option("input", name)
    Config.set("postproc", "double_tap_time", "0")
    Config.set("postproc", "triple_tap_time", "0")


def build_kiosk(socket_path: Path, *, language: str = "en", volume: float = 0.6,
                blank_after_s: float = 300.0):
    """The app with its sound (the bath's buzzer when there is no speaker); Kivy configured first."""
    from .app import KioskApp
    from .sound import Sound

    sound = Sound.open(volume=volume)
    app = KioskApp(socket_path, language=language, volume=volume, sound=sound,
                   blank_after_s=blank_after_s)
    sound.buzzer = lambda pattern: app.send("buzz", pattern=pattern)
    return app


def run_kiosk(socket_path: Path, *, language: str = "en", volume: float = 0.6, fullscreen: bool = False,
              rotation: int = 0, blank_after_s: float = 300.0) -> int:
    configure(fullscreen=fullscreen, rotation=rotation)
    build_kiosk(socket_path, language=language, volume=volume, blank_after_s=blank_after_s).run()
    return 0
