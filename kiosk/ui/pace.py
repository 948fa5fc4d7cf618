"""How often the kiosk's loop wakes: at the panel's full rate only while something needs it.

Kivy's loop wakes at its frame cap whether or not anything changed, and on a still screen the
wake-ups alone (its clock, its input poll) cost a few % of a core. The kiosk draws only when
something changes, so the loop runs at the full 60 frames a second while a fade runs or a
finger has just touched the glass, at PACING_FPS while the pacing ring turns (a slow sweep:
smooth at half the rate, for half the drawing), and otherwise wakes IDLE_FPS times a second.
A touch is then noticed within 1/IDLE_FPS s, and the loop is back at full rate well before the
finger lifts, which is when a button acts.

Pure: the time is passed in; the app applies the rate to Kivy's clock.
"""

from __future__ import annotations

FULL_FPS = 60.0
PACING_FPS = 30.0  # the shipped reps take 5 s or more: at most 2.4 degrees of the ring a frame
IDLE_FPS = 20.0
LINGER_S = 2.0  # the full rate this long after a touch: the next tap of a quick sequence


class FramePace:
    def __init__(self, *, full_fps: float = FULL_FPS, idle_fps: float = IDLE_FPS,
                 linger_s: float = LINGER_S):
        if not 0 < idle_fps <= full_fps:
            raise ValueError(f"the idle rate must be above 0 and at most the full rate, not {idle_fps}")
        self.full_fps, self.idle_fps, self.linger_s = full_fps, idle_fps, linger_s
        self._moving: dict[str, float] = {}  # what moves -> the rate it needs
        self._touched_until = float("-inf")

    def touched(self, now_s: float) -> None:
        self._touched_until = max(self._touched_until, now_s + self.linger_s)

    def moving(self, what: str, on: bool, *, fps: float | None = None) -> None:
        """`what` ("fade", "pacing"...) started or stopped moving; it needs `fps` frames a
        second (the full rate unless it says less)."""
        if on:
            self._moving[what] = min(self.full_fps, fps or self.full_fps)
        else:
            self._moving.pop(what, None)

    def _moving_fps(self) -> float:
        return max(self._moving.values(), default=self.idle_fps)

    def fps(self, now_s: float) -> float:
        if now_s < self._touched_until:
            return self.full_fps
        return max(self.idle_fps, self._moving_fps())

    def settles_in(self, now_s: float) -> float | None:
        """Seconds until the rate may drop by itself (the touch's linger ends), or None: it is
        as low as it goes already, or what moves at the full rate will say when it stops."""
        if now_s >= self._touched_until or self._moving_fps() >= self.full_fps:
            return None
        return self._touched_until - now_s
