"""How often the kiosk's loop wakes: at the panel's full rate only while something moves.

Kivy's loop wakes at its frame cap whether or not anything changed, and on a still screen the
wake-ups alone (its clock, its input poll) cost a few % of a core. The kiosk draws only when
something changes, so the loop runs at the full 60 frames a second while something moves (a
fade, the pacing ring) or a finger has just touched the glass, and otherwise wakes IDLE_FPS
times a second. A touch is then noticed within 1/IDLE_FPS s, and the loop is back at full rate
well before the finger lifts, which is when a button acts.

Pure: the time is passed in; the app applies the rate to Kivy's clock.
"""

from __future__ import annotations

FULL_FPS = 60.0
IDLE_FPS = 20.0
LINGER_S = 2.0  # the full rate this long after a touch: the next tap of a quick sequence


class FramePace:
    def __init__(self, *, full_fps: float = FULL_FPS, idle_fps: float = IDLE_FPS,
                 linger_s: float = LINGER_S):
        if not 0 < idle_fps <= full_fps:
            raise ValueError(f"the idle rate must be above 0 and at most the full rate, not {idle_fps}")
        self.full_fps, self.idle_fps, self.linger_s = full_fps, idle_fps, linger_s
        self._moving: set[str] = set()
        self._touched_until = float("-inf")

    def touched(self, now_s: float) -> None:
        self._touched_until = max(self._touched_until, now_s + self.linger_s)

    def moving(self, what: str, on: bool) -> None:
        """`what` ("fade", "pacing"...) started or stopped moving."""
        if on:
            self._moving.add(what)
        else:
            self._moving.discard(what)

    def fps(self, now_s: float) -> float:
        return self.full_fps if self._moving or now_s < self._touched_until else self.idle_fps

    def settles_in(self, now_s: float) -> float | None:
        """Seconds until the rate may drop by itself (the touch's linger ends), or None: it is
        idle already, or something moves and will say when it stops."""
        if self._moving or now_s >= self._touched_until:
            return None
        return self._touched_until - now_s
