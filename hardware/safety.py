"""The safety supervisor: the last word on the heater, the pump and the vibration motor.

DESIGN.md section 3 as code. The control law only asks for heat; every tick the supervisor
checks every interlock and plausibility rule and returns a `Verdict` that the controller
drives as it is. Pure: time is an argument and nothing here touches a pin, so each rule is
tested with hand-made readings and runs unchanged in the simulated bath.

The rules: heat only inside a session, in a heating phase, on a valid reading younger than
5 s, below the target and the ceiling (40.0 C, or lower from the config), with water in the
basin and within the session's heater-on budget. Faults: a reading at ceiling + 1 C; no valid
reading for 10 s, or 30 s of bad readings within 2 minutes; heater on without a rise (the
heating check); rising with the heater off (stuck relay); and two plausibility rules, a fall
no water can make (probe out) and a value that never changes (frozen reading); an empty basin
in a heating phase; the heater-on budget used up.

Faults latch. The heater stays off and the session ends until a person acknowledges them
(`acknowledge`), which is refused while a fault's condition still holds. A new supervisor has
no session, and heat is only allowed inside one: after a crash or a power loss the heating
stays locked until a person starts a session (`start_session`).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from routines.model import CEILING_C

from . import reading as r
from .errors import HardwareError
from .reading import Reading

# -- limits (DESIGN.md section 3; the bath-dependent ones are for REF_HEATER_W in REF_LITRES) --
READING_MAX_AGE_S = 5.0  # heat only on a valid reading younger than this
ABOVE_TARGET_C = 0.3  # the reading may pass the target by this while the law's estimate is below it
# A dropout is judged by its length, never by a count of reads (a fake bus is read many times
# a second, a real one about once): the heater is off at the first bad reading, and it is a
# fault after this long without a valid reading...
STALE_FAULT_S = 10.0
INTERMITTENT_BAD_S, INTERMITTENT_WINDOW_S = 30.0, 120.0  # ...or this much bad time within this
OVERHEAT_MARGIN_C = 1.0  # a reading at ceiling + this latches a fault
REF_HEATER_W, REF_LITRES = 500.0, 5.0
WATER_J_PER_L_K = 4186.0
HEATING_WINDOW_S = 90.0  # heater-on time allowed without...
HEATING_RISE_C = 0.2  # ...this rise above the lowest reading
PROBE_LAG_S = 70.0  # still water: 40 s mixing delay + 30 s probe time constant
HEATING_OFF_WEIGHT = 2.0  # an off second cancels this many on seconds (see _HeatingCheck)
STUCK_RATE_C_PER_MIN = 0.5  # heater commanded off, yet rising faster than this...
STUCK_WINDOW_S = 120.0  # ...for this long = stuck relay
STUCK_STEADY = 0.5  # ...and not slowing to less than this part of its fastest (_relay_stuck)
FALL_C, FALL_WINDOW_S = 4.0, 120.0  # a drop this large this fast is the probe out (see _read)
FROZEN_S = 180.0  # one value this long in a heating phase: a frozen reading (see _frozen)
EMPTY_FAULT_S = 3.0  # the float switch may bob in the waves of feet going in
HISTORY_S = max(STUCK_WINDOW_S, FALL_WINDOW_S, FROZEN_S) + 30.0

# -- fault codes (stable: the journal, the API and the UI key on them; sensor faults use the
# reading's own codes from hardware.reading) --
OVERHEAT = "overheat"
NOT_HEATING = "not_heating"
RELAY_STUCK = "relay_stuck"
PROBE_OUT = "probe_out"
BASIN_EMPTY = "basin_empty"
HEATER_TIME = "heater_time"
SENSOR_STALE = "sensor_stale"
SENSOR_FROZEN = "sensor_frozen"

# -- why the heater is off (Verdict.reasons) --
LOCKED = "locked"  # no session: after start-up, a crash, a fault or the end of a session
FAULT = "fault"
NO_READING = "no_reading"
BAD_READING = "bad_reading"
OLD_READING = "old_reading"
NOT_HEATING_PHASE = "not_heating_phase"
AT_TARGET = "at_target"
AT_CEILING = "at_ceiling"
NO_WATER = "no_water"
TIME_UP = "heater_time_up"
NOT_WANTED = "not_wanted"

HEATER, PUMP, VIBRATION = "heater", "pump", "vibration"


class SafetyError(HardwareError):
    """The supervisor refuses a request (a session with faults latched, an acknowledgement
    while a fault's condition still holds); the message says what to do first."""


@dataclass(frozen=True)
class Limits:
    """The bath the rules are judged for. The heating and stuck-relay checks scale with how
    fast this heater can warm this much water (DESIGN.md's figures are for 500 W in 5 L), the
    fall rule with how much feet cool it."""

    ceiling_c: float = CEILING_C
    heater_w: float = REF_HEATER_W
    litres: float = REF_LITRES

    def __post_init__(self) -> None:
        for name in ("ceiling_c", "heater_w", "litres"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise SafetyError(f"{name} must be a positive number, not {value!r}; check bath: "
                                  f"in the config")
        if self.ceiling_c > CEILING_C:
            raise SafetyError(f"ceiling_c {self.ceiling_c} is above {CEILING_C} C; the ceiling may "
                              f"be lowered, never raised")

    @property
    def slowness(self) -> float:
        """How much slower than 500 W in 5 L this bath warms (2.0 = half as fast)."""
        return (self.litres / REF_LITRES) * (REF_HEATER_W / self.heater_w)

    @property
    def heating_window_s(self) -> float:
        return HEATING_WINDOW_S * self.slowness

    @property
    def stuck_rate_c_per_min(self) -> float:
        return STUCK_RATE_C_PER_MIN / self.slowness

    @property
    def fall_c(self) -> float:
        """Feet going in take about 2 C from 5 L, more from a smaller basin."""
        return FALL_C * max(1.0, REF_LITRES / self.litres)

    @property
    def overheat_c(self) -> float:
        return self.ceiling_c + OVERHEAT_MARGIN_C

    def heater_budget_s(self, session_s: float) -> float:
        """A session's heater-on maximum: its length plus warming the basin by 20 C at full
        power with half again for losses (about 21 min for 5 L at 500 W)."""
        warm_s = self.litres * WATER_J_PER_L_K * 20.0 / self.heater_w * 1.5
        return session_s + warm_s


@dataclass(frozen=True)
class Fault:
    """A latched fault. `message` is for the touchscreen: what happened and what to check."""

    code: str
    message: str
    since_s: float


@dataclass(frozen=True)
class Verdict:
    """What the outputs must be after this tick. The controller drives the heater exactly as
    `heater` says and keeps the pump and the vibration off unless they are allowed."""

    heater: bool
    pump_allowed: bool
    vibration_allowed: bool
    reasons: tuple[str, ...]  # why the heater is off; empty when it is on
    faults: tuple[Fault, ...]  # every latched fault, oldest first
    new_faults: tuple[Fault, ...]  # the ones latched at this tick (journal them, chime)
    locked: bool  # no session: heat needs a person to start one

    @property
    def forced_off(self) -> tuple[str, ...]:
        """Outputs that must be off whatever the session or the control law wants."""
        names = []
        if not self.heater and set(self.reasons) - {NOT_WANTED}:
            names.append(HEATER)
        if not self.pump_allowed:
            names.append(PUMP)
        if not self.vibration_allowed:
            names.append(VIBRATION)
        return tuple(names)


def _heater_off_message(reading_message: str) -> str:
    """'the thermometer is X: check Y' -> 'The heater is off: the thermometer is X. Check Y.'"""
    what, _, check = reading_message.partition(": ")
    if not check:
        return f"The heater is off: {what}."
    return f"The heater is off: {what}. {check[0].upper()}{check[1:]}."


MESSAGES = {
    **{code: _heater_off_message(text) for code, text in r.MESSAGES.items()},
    SENSOR_STALE: "The heater is off: the thermometer gave no valid temperature for 10 seconds. "
                  "Check the probe's plug and wires.",
    SENSOR_FROZEN: "The heater is off: the thermometer has repeated exactly the same value for 3 "
                   "minutes, which live water never does. Check the probe, then restart the "
                   "controller.",
    NOT_HEATING: "The heater is off: the water did not warm up while the heater was on. Check that "
                 "the probe is in the water and that the heater is plugged in.",
    RELAY_STUCK: "The water keeps warming with the heater switched off: its relay may be stuck. "
                 "Take your feet out. Staff: switch the heater off at the mains and check the relay.",
    PROBE_OUT: "The heater is off: the temperature fell faster than water can cool, so the probe is "
               "probably out of the water. Put the probe back in the water and check its clip.",
    BASIN_EMPTY: "The heater and the pump are off: the float switch says the basin is empty. "
                 "Fill the basin up to the line, and check the float switch.",
}


def _overheat_message(water_c: float, limits: Limits) -> str:
    return (f"The heater is off: the water reached {water_c:.1f} C, above the {limits.ceiling_c:.1f} C "
            f"limit. Take your feet out. Staff: let it cool; if it keeps warming, switch the heater "
            f"off at the mains and check its relay.")


def _heater_time_message(max_s: float) -> str:
    return (f"The heater is off: it has run longer than this session allows ({max_s / 60:.0f} min). "
            f"Check that the probe is in the water and that the heater warms the basin.")


class _History:
    """The valid readings of the last few minutes, oldest first."""

    def __init__(self) -> None:
        self.points: deque[tuple[float, float]] = deque()

    def add(self, taken_s: float, water_c: float) -> None:
        self.points.append((taken_s, water_c))
        while self.points and self.points[0][0] < taken_s - HISTORY_S:
            self.points.popleft()

    def max_since(self, start_s: float) -> float | None:
        return max((c for t, c in self.points if t >= start_s), default=None)

    def slope_c_per_min(self, start_s: float, end_s: float) -> float | None:
        """Least-squares slope of the readings in [start_s, end_s] (noise-robust, unlike the
        two ends); None unless they cover at least 80 % of it."""
        points = [p for p in self.points if start_s <= p[0] <= end_s]
        if len(points) < 3 or points[-1][0] - points[0][0] < 0.8 * (end_s - start_s):
            return None
        n = len(points)
        mean_t = sum(t for t, _ in points) / n
        mean_c = sum(c for _, c in points) / n
        var = sum((t - mean_t) ** 2 for t, _ in points)
        cov = sum((t - mean_t) * (c - mean_c) for t, c in points)
        return 60.0 * cov / var


class _Dropouts:
    """The thermometer's bad stretches, by time. A stretch runs from its first bad reading to
    the next good one; the one under way counts up to now."""

    def __init__(self) -> None:
        self.since_s: float | None = None  # the first bad reading of the stretch under way
        self.code: str | None = None  # the newest bad reading's code
        self.past: deque[tuple[float, float]] = deque()

    def bad(self, taken_s: float, code: str) -> None:
        self.since_s = taken_s if self.since_s is None else self.since_s
        self.code = code

    def good(self, taken_s: float) -> None:
        if self.since_s is not None:
            self.past.append((self.since_s, taken_s))
            self.since_s = None

    def bad_s_within(self, now_s: float, window_s: float) -> float:
        """Seconds of bad stretches within the last window_s."""
        start_s = now_s - window_s
        while self.past and self.past[0][1] <= start_s:
            self.past.popleft()
        stretches = [*self.past, *([(self.since_s, now_s)] if self.since_s is not None else [])]
        return sum(max(0.0, end - max(begin, start_s)) for begin, end in stretches)


class _HeatingCheck:
    """Heater on for the window without a 0.2 C rise above the lowest reading = not heating.

    In still water the probe sees the heater 40 s late and then through its 30 s time
    constant (and the element itself takes a while to warm), so after the heater comes on the
    reading first keeps falling or stays flat. Two allowances keep a healthy heater from ever
    being faulted: the clock counts heater-on time since the lowest reading (every new low
    restarts it, and so does a proven rise), and the first PROBE_LAG_S of every heating
    episode never count.

    Holding the target needs the heater on only part of the time, with no rise to show for
    it; so each second off takes HEATING_OFF_WEIGHT seconds off both counts, and the episode
    ends when its count runs out. A hold at up to 2/3 duty never builds up; heating flat out
    counts second for second, as DESIGN.md states the rule. (A probe cooling in the air keeps
    making new lows: the fall rule catches that.)
    """

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.reset()

    def reset(self) -> None:
        self.episode_s = 0.0  # heater-on time of this heating episode, less the off time
        self.clock_s = 0.0  # the same since the lowest reading
        self.low_c: float | None = None

    def advance(self, *, dt_s: float, heater_on: bool) -> None:
        if heater_on:
            self.episode_s += dt_s
            self.clock_s += dt_s
        elif self.episode_s > 0:
            self.episode_s -= HEATING_OFF_WEIGHT * dt_s
            self.clock_s = max(0.0, self.clock_s - HEATING_OFF_WEIGHT * dt_s)
            if self.episode_s <= 0:
                self.reset()

    def reading(self, water_c: float) -> bool:
        """A new valid reading; True when the heater has had its window without a rise."""
        if self.low_c is None or water_c < self.low_c or water_c >= self.low_c + HEATING_RISE_C:
            self.low_c, self.clock_s = water_c, 0.0
        return self.clock_s >= self.window_s and self.episode_s >= PROBE_LAG_S + self.window_s


class Supervisor:
    """Decides every output, every tick. Build one per controller start; it starts locked."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._faults: dict[str, Fault] = {}
        self._session = False
        self._max_heater_on_s = 0.0
        self._heater_on_s = 0.0
        self._last_now_s: float | None = None
        self._reading: Reading | None = None  # the newest reading seen, good or bad
        self._last_taken_s = -math.inf
        self._last_valid_s: float | None = None
        self._dropouts = _Dropouts()
        self._water_present: bool | None = None
        self._empty_since_s: float | None = None
        self._off_since_s: float | None = None
        self._heating_since_s: float | None = None  # when the session's heating phase began
        self._history = _History()
        self._heating = _HeatingCheck(self.limits.heating_window_s)

    # -- state --------------------------------------------------------------------------

    @property
    def faults(self) -> tuple[Fault, ...]:
        return tuple(self._faults.values())

    @property
    def locked(self) -> bool:
        """True until a person starts a session, and again after it ends or faults."""
        return not self._session

    @property
    def heater_on_s(self) -> float:
        """Heater-on time in the current (or last) session."""
        return self._heater_on_s

    # -- a person's actions -------------------------------------------------------------

    def start_session(self, *, now_s: float, max_heater_on_s: float) -> None:
        """A person starts a session: heat may be allowed again, for at most max_heater_on_s
        of heater-on time (`Limits.heater_budget_s` gives one)."""
        _check_time(now_s)
        if self._faults:
            raise SafetyError("cannot start a session while a fault is latched: "
                              + "; ".join(f.code for f in self._faults.values())
                              + "; fix the cause, then acknowledge the fault")
        if not (isinstance(max_heater_on_s, int | float) and math.isfinite(max_heater_on_s)
                and max_heater_on_s > 0):
            raise SafetyError(f"max_heater_on_s must be a positive number of seconds, "
                              f"not {max_heater_on_s!r}")
        self._session = True
        self._max_heater_on_s = float(max_heater_on_s)
        self._heater_on_s = 0.0
        self._heating.reset()

    def end_session(self, *, now_s: float) -> None:
        _check_time(now_s)
        self._session = False

    def acknowledge(self, *, now_s: float) -> tuple[Fault, ...]:
        """A person has seen the faults and dealt with them: clear them all and return them.
        Refused (SafetyError, nothing cleared) while any fault's condition still holds."""
        _check_time(now_s)
        still = [why for fault in self._faults.values()
                 if (why := self._still_holds(fault.code, now_s))]
        if still:
            raise SafetyError("cannot clear the fault yet: " + "; ".join(still))
        cleared = self.faults
        self._faults.clear()
        self._dropouts = _Dropouts()
        self._heating.reset()
        return cleared

    def _still_holds(self, code: str, now_s: float) -> str | None:
        fresh = self._fresh_water_c(now_s)
        if code == OVERHEAT:
            if fresh is None:
                return "there is no valid reading to show the water has cooled; check the probe"
            if fresh >= self.limits.ceiling_c:
                return (f"the water is still {fresh:.1f} C, at or above the {self.limits.ceiling_c:.1f} C "
                        f"limit; let it cool")
        elif code == RELAY_STUCK:
            if fresh is None:
                return "there is no valid reading to show the water has stopped warming; check the probe"
            rates = self._rates(now_s, 2)
            rate = None if rates is None else rates[-1]
            if rate is not None and rate > self.limits.stuck_rate_c_per_min:
                return (f"the water is still warming ({rate:.1f} C/min) with the heater off; "
                        f"switch the heater off at the mains")
        elif code == BASIN_EMPTY:
            if self._water_present is False:
                return "the float switch still says the basin is empty; fill it up to the line"
        elif fresh is None:  # every other fault needs a working thermometer to start again
            return "the thermometer still gives no valid reading; check the probe's plug and wires"
        return None

    # -- every tick ---------------------------------------------------------------------

    def tick(self, *, now_s: float, reading: Reading | None, heat_wanted: bool, heating_phase: bool,
             target_c: float | None, heater_driven: bool, water_present: bool | None = None,
             estimate_c: float | None = None) -> Verdict:
        """Judge one moment.

        reading: the newest reading (the same one again is fine: only a newer taken_s counts
        as a new read). heat_wanted: the control law's wish. heating_phase: the session is
        warming, waiting for the feet or soaking. heater_driven: the heater output as driven
        since the last tick. water_present: the float switch, None when none is fitted.
        estimate_c: the control law's estimate of the water now, through the probe's lag;
        with one, the reading may pass the target by ABOVE_TARGET_C while the estimate is
        below it; without one (a law that keeps no model), the reading must stay below it.
        """
        _check_time(now_s)
        dt_s = 0.0 if self._last_now_s is None else max(0.0, now_s - self._last_now_s)
        if self._last_now_s is None and self._last_valid_s is None:
            self._last_valid_s = now_s  # the time without a valid reading runs from start-up
        self._last_now_s = now_s if self._last_now_s is None else max(now_s, self._last_now_s)
        new: list[Fault] = []

        if heater_driven:
            if self._session:
                self._heater_on_s += dt_s
            self._off_since_s = None
        elif self._off_since_s is None:
            self._off_since_s = now_s - dt_s
        self._heating.advance(dt_s=dt_s, heater_on=heater_driven)

        if not (self._session and heating_phase):
            self._heating_since_s = None
        elif self._heating_since_s is None:
            self._heating_since_s = now_s
        if reading is not None and reading.taken_s > self._last_taken_s:
            self._read(reading, now_s, new)
        dropouts = self._dropouts
        if self._last_valid_s is not None and now_s - self._last_valid_s >= STALE_FAULT_S:
            self._latch(dropouts.code if dropouts.since_s is not None else SENSOR_STALE, now_s, new)
        if dropouts.bad_s_within(now_s, INTERMITTENT_WINDOW_S) >= INTERMITTENT_BAD_S:
            self._latch(dropouts.code or r.UNREADABLE, now_s, new)

        self._water_present = water_present
        if water_present is False:
            self._empty_since_s = now_s if self._empty_since_s is None else self._empty_since_s
            if self._session and heating_phase and now_s - self._empty_since_s >= EMPTY_FAULT_S:
                self._latch(BASIN_EMPTY, now_s, new)
        else:
            self._empty_since_s = None

        if self._session and self._heater_on_s >= self._max_heater_on_s:
            self._latch(HEATER_TIME, now_s, new,
                        message=_heater_time_message(self._max_heater_on_s))

        if new:
            self._session = False  # a fault ends the session; heat needs a person again
        reasons = self._reasons(now_s, heat_wanted, heating_phase, target_c, water_present, estimate_c)
        fine = not self._faults and water_present is not False
        return Verdict(heater=not reasons, pump_allowed=fine, vibration_allowed=fine,
                       reasons=reasons, faults=self.faults, new_faults=tuple(new),
                       locked=not self._session)

    # -- inside -------------------------------------------------------------------------

    def _read(self, reading: Reading, now_s: float, new: list[Fault]) -> None:
        self._reading = reading
        self._last_taken_s = reading.taken_s
        if not reading.ok:
            self._dropouts.bad(reading.taken_s, reading.fault or r.UNREADABLE)
            return
        water_c = reading.water_c
        self._dropouts.good(reading.taken_s)
        self._last_valid_s = reading.taken_s
        self._history.add(reading.taken_s, water_c)

        if water_c >= self.limits.overheat_c:
            self._latch(OVERHEAT, now_s, new, message=_overheat_message(water_c, self.limits))

        # Plausibility: water cannot cool this fast (0.35 C/min unheated; feet take about 2 C),
        # a probe lifted into room air can (38 -> 34 C in about half a minute). Only readings
        # of the heating phase count: the basin may have been emptied and refilled before.
        if self._heating_since_s is not None:
            since_s = max(reading.taken_s - FALL_WINDOW_S, self._heating_since_s)
            fall_max_c = self._history.max_since(since_s)
            if fall_max_c is not None and fall_max_c - water_c >= self.limits.fall_c:
                self._latch(PROBE_OUT, now_s, new)

        if self._heating.reading(water_c):
            self._latch(NOT_HEATING, now_s, new)

        if self._relay_stuck(reading.taken_s):
            self._latch(RELAY_STUCK, now_s, new)

        if self._heating_since_s is not None and self._frozen(reading.taken_s, self._heating_since_s):
            self._latch(SENSOR_FROZEN, now_s, new)

    def _frozen(self, taken_s: float, heating_since_s: float) -> bool:
        """Every reading exactly the same for FROZEN_S of a heating phase: a stuck driver or a
        cached file, not water. The water is then warming (heater on), cooling (off: 0.35
        C/min at 38 C in 5 L, over 0.1 C/min even in a 32 C room) or swinging with the pulses
        (the shortest pulse, 10 s at 300 W, warms 8 L by 0.09 C), and the sensor resolves
        1/16 C, so a live probe changes within seconds (the simulated hold's longest run of
        one value is well under a minute). The control law would otherwise keep pulsing on a
        frozen value below the target and warm the water unseen."""
        since_s = max(taken_s - FROZEN_S, heating_since_s)
        points = [(t, c) for t, c in self._history.points if t >= since_s]
        return (len(points) >= FROZEN_S / 2 and taken_s - points[0][0] >= 0.9 * FROZEN_S
                and len({c for _, c in points}) == 1)

    def _rates(self, now_s: float, parts: int) -> list[float] | None:
        """The rates (C/min) over each of `parts` equal parts of the last two minutes."""
        part_s = STUCK_WINDOW_S / parts
        rates = [self._history.slope_c_per_min(now_s - STUCK_WINDOW_S + i * part_s,
                                               now_s - STUCK_WINDOW_S + (i + 1) * part_s)
                 for i in range(parts)]
        return None if None in rates else rates

    def _relay_stuck(self, taken_s: float) -> bool:
        """Heater commanded off for two minutes, yet the water rose faster than the limit in
        each half minute of them, without slowing down.

        A healthy bath also warms after switch-off: in still water the probe sees the heat
        40 s late and through its lag, and the element gives off its own heat. But that rise
        tails off exponentially (as does a probe settling into a freshly filled basin), so its
        last half minute is far slower than its fastest (a 30 s lag leaves 5 %, a 60 s one
        22 %); a stuck relay keeps on warming at its pace.
        """
        if self._off_since_s is None or taken_s - self._off_since_s < STUCK_WINDOW_S:
            return False
        rates = self._rates(taken_s, 4)
        limit = self.limits.stuck_rate_c_per_min
        return (rates is not None and min(rates) > limit
                and rates[-1] >= STUCK_STEADY * max(rates))

    def _fresh_water_c(self, now_s: float) -> float | None:
        """The water temperature if the newest reading is valid and younger than 5 s; never an
        older value (a stale or bad reading means 'unknown')."""
        reading = self._reading
        if reading is None or not reading.ok or reading.age_s(now_s) >= READING_MAX_AGE_S:
            return None
        return reading.water_c

    def _latch(self, code: str, now_s: float, new: list[Fault], message: str | None = None) -> None:
        if code in self._faults:
            return
        fault = Fault(code, message or MESSAGES.get(code) or MESSAGES[r.UNREADABLE], now_s)
        self._faults[code] = fault
        new.append(fault)

    def _reasons(self, now_s: float, heat_wanted: bool, heating_phase: bool, target_c: float | None,
                 water_present: bool | None, estimate_c: float | None) -> tuple[str, ...]:
        reasons = []
        if self._faults:
            reasons.append(FAULT)
        if not self._session:
            reasons.append(LOCKED)
        elif self._heater_on_s >= self._max_heater_on_s:
            reasons.append(TIME_UP)
        if not heating_phase:
            reasons.append(NOT_HEATING_PHASE)
        if water_present is False:
            reasons.append(NO_WATER)
        reading = self._reading
        water_c = self._fresh_water_c(now_s)
        if reading is None:
            reasons.append(NO_READING)
        elif not reading.ok:
            reasons.append(BAD_READING)
        elif water_c is None:
            reasons.append(OLD_READING)
        else:
            if water_c >= self.limits.ceiling_c:
                reasons.append(AT_CEILING)
            if not _finite(target_c) or _above_target(water_c, estimate_c, target_c,
                                                      self.limits.ceiling_c):
                reasons.append(AT_TARGET)
        if not heat_wanted:
            reasons.append(NOT_WANTED)
        return tuple(reasons)


def _finite(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _above_target(water_c: float, estimate_c: float | None, target_c: float, ceiling_c: float) -> bool:
    """Whether the water is at the target as far as heating goes (DESIGN.md section 3): the
    reading at the target plus ABOVE_TARGET_C, or the law's estimate at the target. The
    lagging reading of a hold centred on the target swings a little above it; the estimate,
    which sees through the lag, is what must stay below. No estimate: the reading itself."""
    target_c = min(target_c, ceiling_c)
    if estimate_c is None:
        return water_c >= target_c
    return water_c >= target_c + ABOVE_TARGET_C or not (_finite(estimate_c) and estimate_c < target_c)


def _check_time(now_s: float) -> None:
    if not (isinstance(now_s, int | float) and math.isfinite(now_s)):
        raise SafetyError(f"now_s must be a finite number of seconds, not {now_s!r}")
