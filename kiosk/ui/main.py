"""Start the touchscreen: Kivy set up for the official panel, then the app.

Kivy reads its settings when its window module is first imported, so everything here happens
before `app` is imported.

`footbath kiosk` reads and checks the config, then becomes `python -m kiosk.ui.main` with the
kiosk's settings on its command line (`command`): the same process, started afresh, so the
config's parser (PyYAML and the routine checker) is not kept in the kiosk's memory for as long
as it runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .. import ui_defaults as defaults


def configure(*, fullscreen: bool, rotation: int = 0, width: int = 800, height: int = 480) -> None:
    from .memory import map_large_blocks

    map_large_blocks()  # before Kivy and the GL driver allocate anything
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
    # One touch source only, or every tap arrives twice. Full screen (KMS/DRM) it is the panel,
    # read by Kivy through libmtdev: Kivy makes touches of SDL2's finger events on Android and
    # iOS only, and SDL2 on KMS/DRM makes no mouse events of a touchscreen's, so without this a
    # customer's taps reach nothing. probesysfs finds the panels (the devices with multitouch
    # positions) when the kiosk starts; mtdev reads both multitouch protocols (Kivy's hidinput
    # misses protocol B, which the Pi's panels speak).
    for name, _ in list(Config.items("input")):
        Config.remove_option("input", name)
    if fullscreen:
        Config.set("input", "panel_%(name)s", "probesysfs,provider=mtdev")
    Config.set("postproc", "double_tap_time", "0")
    Config.set("postproc", "triple_tap_time", "0")


def build_kiosk(socket_path: Path, *, language: str = defaults.LANGUAGE, volume: float = defaults.VOLUME,
                blank_after_s: float = defaults.BLANK_AFTER_S):
    """The app with its sound (the bath's buzzer when there is no speaker); Kivy configured first."""
    from .app import KioskApp
    from .sound import Sound

    sound = Sound.open(volume=volume)
    app = KioskApp(socket_path, language=language, volume=volume, sound=sound,
                   blank_after_s=blank_after_s)
    sound.buzzer = lambda pattern: app.send("buzz", pattern=pattern)
    return app


def run_kiosk(socket_path: Path, *, language: str = defaults.LANGUAGE, volume: float = defaults.VOLUME,
              fullscreen: bool = False, rotation: int = defaults.ROTATION,
              blank_after_s: float = defaults.BLANK_AFTER_S) -> int:
    configure(fullscreen=fullscreen, rotation=rotation)
    build_kiosk(socket_path, language=language, volume=volume, blank_after_s=blank_after_s).run()
    return 0


def command(socket_path: Path, *, language: str, volume: float, rotation: int, blank_after_s: float,
            window: bool) -> list[str]:
    """The command line that runs the kiosk with these settings (read by `main`)."""
    return [sys.executable, "-m", "kiosk.ui.main", "--socket", str(socket_path), "--language", language,
            "--volume", repr(volume), "--rotation", str(rotation), "--blank-after-s", repr(blank_after_s),
            *(["--window"] if window else [])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kiosk.ui.main",
        description="The touchscreen with its settings given here; `footbath kiosk` reads them from "
                    "the config and starts this.")
    parser.add_argument("--socket", type=Path, required=True, help="the controller's API socket")
    parser.add_argument("--language", default=defaults.LANGUAGE)
    parser.add_argument("--volume", type=float, default=defaults.VOLUME)
    parser.add_argument("--rotation", type=int, default=defaults.ROTATION)
    parser.add_argument("--blank-after-s", type=float, default=defaults.BLANK_AFTER_S)
    parser.add_argument("--window", action="store_true", help="an 800x480 window, not full screen")
    args = parser.parse_args(argv)
    return run_kiosk(args.socket, language=args.language, volume=args.volume,
                     fullscreen=not args.window, rotation=args.rotation, blank_after_s=args.blank_after_s)


if __name__ == "__main__":
    sys.exit(main())
