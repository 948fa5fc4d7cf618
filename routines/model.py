"""A routine as data: what the customer soaks in and which massage steps follow.

YAML keys equal the field names; units are in the names. The limits below are the spa's
rules and the screen's room, in one place so the validator, the runner and the docs agree.
"""

from __future__ import annotations

from dataclasses import dataclass

CEILING_C = 40.0  # no target above this, ever (spa practice and UL 1563)
TARGET_MIN_C = 30.0
SOAK_MIN_S, SOAK_MAX_S = 60, 1800
GENTLE_TARGET_C = 37.0  # diabetes, reduced feeling, circulation problems, pregnancy
GENTLE_SOAK_MAX_S = 600
GENTLE_VIBRATION_MAX_PCT = 30  # light pressure only

ID_PATTERN = r"[a-z0-9][a-z0-9_-]{0,31}"
NAME_MAX = 40
DESCRIPTION_MAX = 120
TITLE_MAX = 32  # fits one line of large type on the 800 px screen
SAY_MAX = 280
ADDITIVES_MAX = 160
STEPS_MAX = 30
STEP_MIN_S, STEP_MAX_S = 5, 900
REPS_MAX = 60
REP_MIN_S, REP_MAX_S = 1.0, 60.0
PROMPT_ESTIMATE_S = 30  # a prompt waits for a tap; totals count it as this long

FEET = ("left", "right")

# Drawings the touchscreen has for a step (a foot outline with the path of the pressure).
ILLUSTRATIONS = (
    "fill", "feet_in", "dry", "oil",
    "top_strokes", "heel_rotation", "sole_thumb_roll", "sole_knead", "thumb_walk",
    "toe_rotation", "arch_press", "knuckle_knead", "ankle_circles", "rest",
)


@dataclass(frozen=True)
class Soak:
    target_c: float
    duration_s: int
    additives: str = ""
    bubbles: bool = False
    vibration_pct: int = 0


@dataclass(frozen=True)
class Step:
    """One guided step: timed (`duration_s`), paced (`reps` of `rep_s`) or a prompt (`wait_for_tap`)."""

    title: str
    say: str
    duration_s: int | None = None
    reps: int | None = None
    rep_s: float | None = None
    per_foot: bool = False
    wait_for_tap: bool = False
    bubbles: bool = False
    vibration_pct: int = 0
    illustration: str | None = None

    @property
    def foot_s(self) -> float:
        """How long the step runs for one foot (or in all, when not per foot)."""
        if self.wait_for_tap:
            return PROMPT_ESTIMATE_S
        if self.reps is not None and self.rep_s is not None:
            return self.reps * self.rep_s
        return float(self.duration_s or 0)

    @property
    def length_s(self) -> float:
        return self.foot_s * (2 if self.per_foot else 1)


@dataclass(frozen=True)
class Routine:
    id: str
    name: str
    description: str
    soak: Soak
    steps: tuple[Step, ...]

    @property
    def length_s(self) -> float:
        """Soak plus every step; warming the water comes on top and depends on the bath."""
        return self.soak.duration_s + sum(step.length_s for step in self.steps)


def format_duration(seconds: float) -> str:
    seconds = round(seconds)
    minutes, secs = divmod(seconds, 60)
    if minutes and secs:
        return f"{minutes} min {secs} s"
    return f"{minutes} min" if minutes else f"{secs} s"
