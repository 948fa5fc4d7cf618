"""The between-customer cleaning cycle, guided step by step (pure; time passed in).

Drain, scrub, disinfect (the disinfectant needs its contact time: the countdown must run
out before the cycle can go on), rinse. Only a finished cycle counts as a cleaning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

STEPS = (
    ("drain", "Drain the basin", "Empty the water and wipe out any residue."),
    ("scrub", "Scrub", "Scrub the basin, the jets and the footrest with detergent and a brush, then rinse."),
    ("disinfect", "Disinfect", "Fill or spray with an EPA-registered disinfectant and leave it to act."),
    ("rinse", "Rinse and dry", "Rinse with clean water, drain, and wipe the basin dry."),
)
DISINFECT = 2


@dataclass(frozen=True)
class CleaningState:
    step: str
    title: str
    text: str
    index: int
    count: int
    remaining_s: float | None  # the disinfectant's contact countdown
    who: str


class CleaningCycle:
    def __init__(self, *, who: str, contact_s: float, now_s: float):
        self.who = who
        self.contact_s = contact_s
        self.started_s = now_s
        self.index = 0
        self.contact_started_s: float | None = None

    def remaining_s(self, now_s: float) -> float | None:
        if self.contact_started_s is None:
            return None
        return max(0.0, self.contact_s - (now_s - self.contact_started_s))

    @property
    def finished(self) -> bool:
        return self.index >= len(STEPS)

    def next(self, now_s: float) -> bool:
        """Go on to the next step; True when the whole cycle is finished."""
        if self.finished:
            raise ValueError("this cleaning cycle is already finished; start a new one")
        remaining = self.remaining_s(now_s)
        if self.index == DISINFECT and remaining:
            raise ValueError(f"the disinfectant needs {math.ceil(remaining)} s more contact time; "
                             "wait for the countdown")
        self.index += 1
        if self.index == DISINFECT:
            self.contact_started_s = now_s
        return self.finished

    def state(self, now_s: float) -> CleaningState:
        key, title, text = STEPS[min(self.index, len(STEPS) - 1)]
        return CleaningState(key, title, text, self.index, len(STEPS),
                             self.remaining_s(now_s) if self.index == DISINFECT else None, self.who)
