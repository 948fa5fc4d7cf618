"""The session runner: one customer's walk through a routine, as a pure state machine.

Time is an argument (`now_s`, any monotonic seconds), so a 30-minute session runs in a test
in microseconds and the controller decides what clock to trust. Every event either does what
it says or raises `SessionError`; nothing is silently ignored. A tap is meant for what the
screen showed: when a countdown runs out between the last tick and the tap, the tap never
lands on the step that followed unseen (a late Next must not skip two steps).

Phases: fill (prompt) -> heating (until the water is at the target and settled) -> ready
(waits for "feet in") -> soaking (countdown, holds the target) -> steps (each massage step,
per foot where it applies) -> done; or stopped, or fault.

"Ready" must be true when the customer reads it: a lagging probe in an over-hot fill climbs
through the target on its way up, so the water is ready only when the reading and the heater
control's estimate of the water (which sees through the probe's lag) are both within
tolerance and the reading is settled: not moving faster than a held bath can, and not heading
out of tolerance at the pace it moves.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from . import model as m
from .errors import SessionError
from .model import Routine, Step

FILL, HEATING, READY, SOAKING, STEPS, DONE, STOPPED, FAULT = (
    "fill", "heating", "ready", "soaking", "steps", "done", "stopped", "fault")
PHASES = (FILL, HEATING, READY, SOAKING, STEPS, DONE, STOPPED, FAULT)
ENDED = (DONE, STOPPED)
# Heat is wanted while warming, while the water waits for the feet, and during the soak.
HEAT_PHASES = (HEATING, READY, SOAKING)

STANDARD, GENTLE = "standard", "gentle"
PROFILES = (STANDARD, GENTLE)

READY_TOLERANCE_C = 0.5  # the DS18B20's own accuracy
SOAK_BAND_C = 1.0  # further from the target than this and the soak countdown waits
# Settled: over the last RATE_WINDOW_S the reading moves no faster than SETTLED_C_PER_S, and
# at that pace it would still be within tolerance after HEADING_S (a probe's time constant).
RATE_WINDOW_S, RATE_SPAN_S = 20.0, 10.0  # the window, and how much of it readings must cover
SETTLED_C_PER_S = 0.05
HEADING_S = 30.0
# Feet going in take a degree or two from the water (announced by the tap that starts the
# soak); while the heater makes it up, only a deeper dip pauses the countdown.
FEET_SETTLE_S, FEET_BAND_C = 300.0, 2.0
EXTEND_S = 60

# Why a countdown is not running (the touchscreen words each one).
USER, WATER_COLD, WATER_HOT, NO_READING = "user", "water_cold", "water_hot", "no_reading"


@dataclass(frozen=True)
class Stage:
    """The soak (step is None) or one step for one foot (foot None when not per foot)."""

    index: int | None
    step: Step | None
    foot: str | None


@dataclass(frozen=True)
class Snapshot:
    """Everything a screen needs, already worked out."""

    phase: str
    routine_id: str
    routine_name: str
    profile: str
    target_c: float
    heat_wanted: bool
    step_index: int | None  # 0-based index into the routine's steps, None outside the steps
    step_count: int
    title: str
    text: str
    remaining_s: float | None  # the current countdown; None when nothing counts down
    session_remaining_s: float
    progress: float  # 0..1 over the soak and the steps
    rep: int | None
    reps: int | None
    rep_s: float | None
    foot: str | None
    next_title: str | None
    paused: bool
    pause_reason: str | None
    cooling: bool  # warming, but the water is above the target: it must cool first
    waiting_for_tap: bool
    bubbles: bool
    vibration_pct: int
    illustration: str | None
    water_c: float | None
    fault_code: str | None
    fault_message: str | None


class Session:
    """One session. Build it with `Session.start`; drive it with events and `tick`."""

    def __init__(self, routine: Routine, profile: str, now_s: float):
        gentle = profile == GENTLE
        self.routine = routine
        self.profile = profile
        self.target_c = min(routine.soak.target_c, m.GENTLE_TARGET_C) if gentle else routine.soak.target_c
        self.soak_max_s = m.GENTLE_SOAK_MAX_S if gentle else m.SOAK_MAX_S
        self.stages = [Stage(None, None, None)] + [
            Stage(i, step, foot)
            for i, step in enumerate(routine.steps)
            for foot in (m.FEET if step.per_foot else (None,))
        ]
        self.lengths: list[float | None] = [min(routine.soak.duration_s, self.soak_max_s)] + [
            None if s.step.wait_for_tap else s.step.foot_s for s in self.stages[1:]]
        self.phase = FILL
        self.stage = 0
        self.elapsed_s = 0.0
        self.user_paused = False
        self.water_c: float | None = None
        self.estimate_c: float | None = None
        self.recent: deque[tuple[float, float]] = deque()  # (s, reading) over RATE_WINDOW_S
        self.fault_code: str | None = None
        self.fault_message: str | None = None
        self.last_s = now_s

    @classmethod
    def start(cls, routine: Routine, *, profile: str = STANDARD, now_s: float) -> Session:
        if profile not in PROFILES:
            raise SessionError(f"unknown profile {profile!r}; use {' or '.join(PROFILES)}")
        return cls(routine, profile, _checked_time(now_s))

    # -- events -------------------------------------------------------------------------

    def tick(self, *, now_s: float, water_c: float | None, estimate_c: float | None = None) -> None:
        """Time passes and a reading arrives (None when there is no valid reading), with the
        heater control's estimate of the water now when it has one."""
        self._advance(now_s)
        water_c, estimate_c = _number(water_c), _number(estimate_c)
        self.water_c = water_c
        self.estimate_c = estimate_c if water_c is not None else None
        if water_c is None:
            self.recent.clear()  # a rate across a dropout says nothing
            return
        self.recent.append((now_s, water_c))
        while self.recent and self.recent[0][0] < now_s - RATE_WINDOW_S:
            self.recent.popleft()
        errors = [abs(c - self.target_c) for c in (water_c, estimate_c) if c is not None]
        if self.phase == HEATING and max(errors) <= READY_TOLERANCE_C and self._settled():
            self.phase = READY
        elif self.phase == READY and max(errors) > SOAK_BAND_C:
            self.phase = HEATING

    def _settled(self) -> bool:
        rate = _slope(self.recent, RATE_SPAN_S)
        return (rate is not None and abs(rate) <= SETTLED_C_PER_S
                and abs(self.water_c + rate * HEADING_S - self.target_c) <= READY_TOLERANCE_C)

    def confirm(self, *, now_s: float) -> None:
        """The customer taps to go on: basin filled, feet in, or a prompt step done."""
        seen = self._where()
        self._advance(now_s)
        if self._where() != seen:  # the tap was for a countdown that has just ended, not for what came next
            raise self._refuse("confirm", "the step on screen has just ended; nothing was confirmed")
        if self.phase == FILL:
            self.phase = HEATING
        elif self.phase == READY:
            self._enter(SOAKING, 0)
        elif self.phase == STEPS and self._length() is None:
            self._next_stage()
        else:
            raise self._refuse("confirm", "there is nothing to confirm")

    def pause(self, *, now_s: float) -> None:
        self._advance(now_s)
        if not self._counting_phase() or self._length() is None:
            raise self._refuse("pause", "only a running countdown can be paused")
        if self.user_paused:
            raise self._refuse("pause", "it is already paused")
        self.user_paused = True

    def resume(self, *, now_s: float) -> None:
        self._advance(now_s)
        if not self.user_paused:
            raise self._refuse("resume", "it is not paused")
        self.user_paused = False

    def next(self, *, now_s: float) -> None:
        """Skip the rest of the soak or of the current step."""
        seen = self._where()
        self._advance(now_s)
        if self._where() != seen:
            return  # the countdown on screen ran out as the tap came: skipping again would skip a step unseen
        if not self._counting_phase():
            raise self._refuse("next", "only the soak and the steps can be skipped")
        self._next_stage()

    def back(self, *, now_s: float) -> None:
        """Go back to the start of the step (or foot) before the one on screen."""
        seen_phase, seen_stage = self._where()
        self._advance(now_s)
        if self.phase != STEPS or seen_phase != STEPS or seen_stage <= 1:
            raise self._refuse("back", "there is no earlier step to go back to")
        self._enter(STEPS, seen_stage - 1)  # the one before what was shown, even if that just ran out

    def extend(self, *, now_s: float, seconds: float = EXTEND_S) -> None:
        """Add time to the current countdown (+1 min), within the routine's limits."""
        if not (isinstance(seconds, int | float) and math.isfinite(seconds) and seconds > 0):
            raise SessionError(f"cannot extend by {seconds!r}; give a positive number of seconds")
        seen = self._where()
        self._advance(now_s)
        if self._where() != seen:  # more time for the step that ran out, not for the one after it
            raise self._refuse("extend", "the countdown on screen has just ended")
        length = self._length() if self._counting_phase() else None
        if length is None:
            raise self._refuse("extend", "only a running countdown can be extended")
        limit = self.soak_max_s if self.phase == SOAKING else m.STEP_MAX_S
        step = self.stages[self.stage].step
        if step is not None and step.rep_s:  # a paced step grows by whole repetitions
            seconds = math.ceil(seconds / step.rep_s) * step.rep_s
            limit = limit // step.rep_s * step.rep_s
        if length >= limit:
            raise self._refuse("extend", f"it is already at its longest ({m.format_duration(limit)})")
        self.lengths[self.stage] = min(limit, length + seconds)

    def stop(self, *, now_s: float) -> None:
        seen = self._where()
        self._advance(now_s)
        if self.phase in ENDED:
            if self._where() != seen:
                return  # it came to its end as Stop was tapped: it is over either way
            raise self._refuse("stop", "the session has already ended")
        self.phase = STOPPED
        self.user_paused = False

    def fault(self, *, now_s: float, code: str, message: str) -> None:
        """The bath reports a fault: everything stops until a person steps in."""
        self._advance(now_s)
        if self.phase in (*ENDED, FAULT):
            raise self._refuse("fault", "the session has already ended")
        self.phase = FAULT
        self.user_paused = False  # nothing to resume: only staff can clear a fault
        self.fault_code, self.fault_message = code, message

    # -- what the screen shows ----------------------------------------------------------

    def snapshot(self) -> Snapshot:
        stage = self.stages[self.stage]
        in_stage = self._counting_phase()
        step = stage.step if in_stage else None
        length = self._length() if in_stage else None
        remaining = max(0.0, length - self.elapsed_s) if length is not None else None
        later = sum(self._estimate(i) for i in range(self.stage + 1, len(self.stages)))
        if in_stage:
            current = remaining if remaining is not None else self._estimate(self.stage)
            session_remaining = current + later
        elif self.phase in (FILL, HEATING, READY):
            session_remaining = sum(self._estimate(i) for i in range(len(self.stages)))
        else:
            session_remaining = 0.0
        total = sum(self._estimate(i) for i in range(len(self.stages)))
        progress = 1.0 if self.phase == DONE else (
            0.0 if not in_stage else min(1.0, max(0.0, 1 - session_remaining / total)))
        rep = reps = None
        if step is not None and step.reps is not None and step.rep_s and length is not None:
            reps = round(length / step.rep_s)
            rep = min(reps, int(self.elapsed_s // step.rep_s) + 1)
        nxt = self.stages[self.stage + 1] if in_stage and self.stage + 1 < len(self.stages) else None
        if self.phase in (FILL, HEATING, READY):
            nxt = self.stages[0]
        title, text = self._words(stage)
        gentle_cap = m.GENTLE_VIBRATION_MAX_PCT if self.profile == GENTLE else 100
        actuators = step or self.routine.soak
        return Snapshot(
            phase=self.phase,
            routine_id=self.routine.id,
            routine_name=self.routine.name,
            profile=self.profile,
            target_c=self.target_c,
            heat_wanted=self.phase in HEAT_PHASES,
            step_index=stage.index if in_stage else None,
            step_count=len(self.routine.steps),
            title=title,
            text=text,
            remaining_s=remaining,
            session_remaining_s=session_remaining,
            progress=progress,
            rep=rep,
            reps=reps,
            rep_s=step.rep_s if step is not None else None,
            foot=stage.foot if in_stage else None,
            next_title=(nxt.step.title if nxt.step else "Soak") if nxt else None,
            paused=self._hold_reason() is not None,
            cooling=self._cooling(),
            pause_reason=self._hold_reason(),
            waiting_for_tap=self.phase in (FILL, READY) or (in_stage and length is None),
            bubbles=bool(in_stage and actuators.bubbles),
            vibration_pct=min(actuators.vibration_pct, gentle_cap) if in_stage else 0,
            illustration=step.illustration if step else None,
            water_c=self.water_c,
            fault_code=self.fault_code,
            fault_message=self.fault_message,
        )

    # -- inside -------------------------------------------------------------------------

    def _where(self) -> tuple[str, int]:
        return self.phase, self.stage

    def _counting_phase(self) -> bool:
        return self.phase in (SOAKING, STEPS)

    def _length(self) -> float | None:
        return self.lengths[self.stage]

    def _estimate(self, i: int) -> float:
        length = self.lengths[i]
        return m.PROMPT_ESTIMATE_S if length is None else length

    def _cooling(self) -> bool:
        """The heater cannot cool: a basin filled too hot waits, and says so."""
        warmest = max((c for c in (self.water_c, self.estimate_c) if c is not None), default=None)
        return self.phase == HEATING and warmest is not None and warmest > self.target_c + READY_TOLERANCE_C

    def _hold_reason(self) -> str | None:
        if not self._counting_phase() or self._length() is None:
            return None
        if self.user_paused:
            return USER
        if self.phase != SOAKING:
            return None
        if self.water_c is None:
            return NO_READING
        feet_settling = self.stage == 0 and self.elapsed_s < FEET_SETTLE_S
        cold_c = self.target_c - (FEET_BAND_C if feet_settling else SOAK_BAND_C)
        # Cold only if the heater control's estimate agrees: after feet go in, a lagging probe
        # shows the dip for a minute after the heat has made it up.
        if self.water_c < cold_c and (self.estimate_c is None or self.estimate_c < cold_c):
            return WATER_COLD
        if self.water_c > self.target_c + SOAK_BAND_C:
            return WATER_HOT
        return None

    def _advance(self, now_s: float) -> None:
        """Let time run up to now_s.

        A clock that steps back counts as standing still for that step only; time then runs
        on from the new reading, so a countdown never freezes for as long as the jump was.
        """
        dt = max(0.0, _checked_time(now_s) - self.last_s)
        self.last_s = now_s
        if self._hold_reason() is not None or not self._counting_phase():
            return
        self.elapsed_s += dt
        while self._counting_phase():
            length = self._length()
            if length is None or self.elapsed_s < length:
                return
            overflow = self.elapsed_s - length
            self._next_stage()
            self.elapsed_s = overflow if self._length() is not None else 0.0

    def _next_stage(self) -> None:
        if self.stage + 1 >= len(self.stages):
            self.phase = DONE
            self.user_paused = False
            return
        self._enter(STEPS, self.stage + 1)

    def _enter(self, phase: str, stage: int) -> None:
        self.phase, self.stage, self.elapsed_s, self.user_paused = phase, stage, 0.0, False

    def _refuse(self, event: str, why: str) -> SessionError:
        return SessionError(f"cannot {event} while {self.phase}: {why}")

    def _words(self, stage: Stage) -> tuple[str, str]:
        r = self.routine
        if self.phase == FILL:
            return "Fill the basin", "Fill the basin with warm water up to the line, then tap Continue."
        if self.phase == HEATING:
            if self._cooling():
                return ("Letting the water cool",
                        f"The water is too hot; it is cooling to {self.target_c:.1f} C.")
            return "Warming the water", f"The water is warming to {self.target_c:.1f} C."
        if self.phase == READY:
            return "Ready", f"The water is at {self.target_c:.1f} C. Put your feet in, then tap Start."
        if self.phase == DONE:
            return "All done", "Dry your feet well, including between the toes. Staff will clean the basin."
        if self.phase == STOPPED:
            return "Stopped", "The session has stopped and the heater is off."
        if self.phase == FAULT:
            return "Please call staff", self.fault_message or ""
        if stage.step is None:
            return "Soak", r.soak.additives or f"Relax with your feet in the water at {self.target_c:.1f} C."
        return stage.step.title, stage.step.say


def _number(value: float | None) -> float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) \
        else None


def _slope(points: deque[tuple[float, float]], span_s: float) -> float | None:
    """Least-squares slope of (s, C) points, C/s; None unless they span span_s."""
    if len(points) < 3 or points[-1][0] - points[0][0] < span_s:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_c = sum(c for _, c in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    return sum((t - mean_t) * (c - mean_c) for t, c in points) / var


def _checked_time(now_s: float) -> float:
    """A clock reading the runner can count with; anything else would poison every countdown."""
    if not (isinstance(now_s, int | float) and math.isfinite(now_s)):
        raise SessionError(f"now_s must be a finite number of seconds, not {now_s!r}; "
                           "pass a monotonic clock's reading")
    return now_s
