"""When to sound: a chime at each step change, soft ticks for the last 3 seconds of a countdown,
an end tone when the session is done. Pure: worked out from two successive statuses."""

from __future__ import annotations

import math

CHIME, TICK, END = "chime", "tick", "end"
TICKS_FROM_S = 3


def _stage(status: dict | None):
    session = (status or {}).get("session")
    if not session:
        return None
    return (session["phase"], session["step_index"], session["foot"])


class Cues:
    def after(self, previous: dict | None, status: dict | None) -> list[str]:
        before, now = _stage(previous), _stage(status)
        if now is None or before is None:
            return []
        if now != before:
            if now[0] == "done":
                return [END]
            if now[0] in ("soaking", "steps"):
                return [CHIME]
            return []
        old = (previous or {})["session"]["remaining_s"]
        new = status["session"]["remaining_s"]
        if old is None or new is None or status["session"]["paused"]:
            return []
        # A tick for each whole second from 3 down to 1 passed since the last status.
        crossed = [s for s in range(TICKS_FROM_S, 0, -1) if new <= s < old and math.ceil(old) > s]
        return [TICK] * min(len(crossed), 1)
