"""A fingertip on the window, for the harness and the UI bench: the touch a panel would send.

Kivy's own `kivy.tests.UnitTestTouch` does the same, but importing `kivy.tests` brings in
pytest, which the bench would then count as the kiosk's memory.
"""

from __future__ import annotations

from kivy.input.motionevent import MotionEvent


class Fingertip(MotionEvent):
    """One touch at window pixel (x, y)."""

    def __init__(self, window, x: float, y: float):
        super().__init__("fingertip", 1, {"sx": x / (window.width - 1.0), "sy": y / (window.height - 1.0)},
                         is_touch=True, type_id="touch")
        self.profile = ["pos"]

    def depack(self, args: dict) -> None:
        self.sx, self.sy = args["sx"], args["sy"]
        super().depack(args)
