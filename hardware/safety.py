"""The safety supervisor: the last word on the heater, the pump and the vibration motor.

DESIGN.md section 3 as code. The control law only asks for heat; every tick the supervisor
checks every interlock and plausibility rule and returns a `Verdict` that the controller
drives as it is. Pure: time is an argument and nothing here touches a pin, so each rule is
tested with hand-made readings and runs unchanged in the simulated bath.

The rules: heat only inside a session, in a heating phase, on a valid reading younger than
5 s, below the ceiling (40.0 C, or lower from the config) and below the target (the reading
below the target + 0.3 C and the control law's estimate below the target), with water in the
basin, within the session's heater-on budget, and with a second probe or a safety relay, when
fitted, in order. Faults: a reading at ceiling + 1 C; no valid reading for 10 s, or 30 s of bad
readings within 2 minutes; heater on without a rise (the heating check); warming with the
heater off (stuck relay); two probes that disagree; and two plausibility rules, a fall no water
can make (probe out) and a value that never changes (frozen reading); an empty basin in a
heating phase; the heater-on budget used up.

Faults latch. The heater stays off and the session ends until a person acknowledges them
(`acknowledge`), which is refused while a fault's condition still holds. A new supervisor has
no session, and heat is only allowed inside one: after a crash or a power loss the heating
stays locked until a person starts a session (`start_session`).
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import deque
from dataclasses import dataclass

from routines.model import CEILING_C

from . import reading as r
from .devices import HEATER, PUMP, VIBRATION
from .errors import HardwareError
from .physics import WATER_J_PER_L_K
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
HEATING_WINDOW_S = 90.0  # heater-on time allowed without...
HEATING_RISE_C = 0.2  # ...this rise above the lowest reading
PROBE_LAG_S = 70.0  # still water: 40 s mixing delay + 30 s probe time constant
HEATING_OFF_WEIGHT = 4.0  # an off second cancels this many on seconds (see _HeatingCheck)
STUCK_RATE_C_PER_MIN = 0.5  # heater commanded off, yet rising faster than this...
STUCK_WINDOW_S = 120.0  # ...for this long = stuck relay
STUCK_STEADY = 0.5  # ...and not slowing to less than this part of its fastest (_relay_stuck)
FALL_C, FALL_WINDOW_S = 4.0, 120.0  # a drop this large this fast is the probe out (see _read)
FROZEN_S = 180.0  # one value this long in a heating phase: a frozen reading (see _frozen)
EMPTY_FAULT_S = 3.0  # the float switch may bob in the waves of feet going in
PROBES_AGREE_C, DISAGREE_FAULT_S = 1.0, 30.0  # a second probe: further apart than this, this long
SAFETY_HYSTERESIS_C = 0.15  # an open safety relay closes with the water this far inside its limits
REWARM_OFF_S = 240.0  # heater off this long: the last pulse's heat has reached the probe
REWARM_DIP_C, REWARM_BELOW_S = 0.2, 20.0  # below target + 0.3 by this, this long, then back over
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
PROBES_DISAGREE = "probes_disagree"
CHECK_SENSOR = "check_sensor"  # the second probe gives no valid reading

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
SAFETY_RELAY_OPEN = "safety_relay_open"  # it closes a reading before the heater relay may
NOT_WANTED = "not_wanted"



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
        """Longer for a slower bath; never shorter than HEATING_WINDOW_S, however strong the
        heater: most of the window is the probe's lag, which no heater shortens."""
        return HEATING_WINDOW_S * max(1.0, self.slowness)

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
    # The safety relay in series with the heater, when one is fitted: closed only while the
    # session may heat (see Supervisor._may_close_safety_relay). In normal running it never
    # switches the load: it closes a reading before the heater relay may, and opens for the
    # temperature only after the heater relay has; only a welded heater relay makes it work.
    safety_relay: bool = False

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
    PROBES_DISAGREE: "The heater is off: the two thermometers disagree by more than 1 C. Check that "
                     "both probes are in the water; the one that reads differently may be failing.",
    CHECK_SENSOR: "The heater is off: the second thermometer gives no valid temperature. Check its "
                  "plug and wires (hardware.thermometer.check_sensor_id).",
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
    """The valid readings of the last few minutes, oldest first, with what the rules ask of
    them kept up as they come (every reading, on a Pi once a second, on a fake bus far more
    often: no rule rescans minutes of readings)."""

    def __init__(self) -> None:
        self.points: deque[tuple[float, float]] = deque()
        self._peaks: deque[tuple[float, float]] = deque()  # falling values: the maxima to come
        self.same_since_s: float | None = None  # when the newest run of one value began

    def add(self, taken_s: float, water_c: float) -> None:
        if not self.points or self.points[-1][1] != water_c:
            self.same_since_s = taken_s
        self.points.append((taken_s, water_c))
        while self.points and self.points[0][0] < taken_s - HISTORY_S:
            self.points.popleft()
        while self._peaks and self._peaks[-1][1] <= water_c:
            self._peaks.pop()
        self._peaks.append((taken_s, water_c))

    def max_since(self, start_s: float) -> float | None:
        """The highest reading since start_s; start_s must never go back between calls."""
        while self._peaks and self._peaks[0][0] < start_s:
            self._peaks.popleft()
        return self._peaks[0][1] if self._peaks else None

    def slope_c_per_min(self, start_s: float, end_s: float) -> float | None:
        """Least-squares slope of the readings in [start_s, end_s] (noise-robust, unlike the
        two ends); None unless they cover at least 80 % of it."""
        first = bisect.bisect_left(self.points, start_s, key=lambda p: p[0])
        points = list(itertools.takewhile(lambda p: p[0] <= end_s,
                                          itertools.islice(self.points, first, None)))
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


class _Probe:
    """One thermometer as the rules see it: its newest reading, its last valid one, and its
    dropouts by time. `fault_code` names every dropout fault of a second probe (whose own
    reading codes would read as the main probe's)."""

    def __init__(self, fault_code: str | None = None) -> None:
        self.fault_code = fault_code
        self.reading: Reading | None = None  # the newest, good or bad
        self.valid: Reading | None = None  # the newest valid one
        self.dropouts = _Dropouts()
        self._watched_s: float | None = None  # since when a valid reading is awaited

    def take(self, reading: Reading | None, now_s: float) -> bool:
        """Note a reading; True when it is a new one (the same one again counts once)."""
        if self._watched_s is None:
            self._watched_s = now_s  # the time without a valid reading runs from start-up
        if reading is None or (self.reading is not None and reading.taken_s <= self.reading.taken_s):
            return False
        self.reading = reading
        if reading.ok:
            self.valid = reading
            self.dropouts.good(reading.taken_s)
        else:
            self.dropouts.bad(reading.taken_s, reading.fault or r.UNREADABLE)
        return True

    def fresh_c(self, now_s: float) -> float | None:
        """The temperature if the newest reading is valid and younger than 5 s; never an older
        value (a stale or bad reading means 'unknown')."""
        reading = self.reading
        if reading is None or not reading.ok or reading.age_s(now_s) >= READING_MAX_AGE_S:
            return None
        return reading.water_c

    def off_reason(self, now_s: float) -> str | None:
        """Why this probe allows no heat now, if it does not."""
        if self.reading is None:
            return NO_READING
        if not self.reading.ok:
            return BAD_READING
        return OLD_READING if self.fresh_c(now_s) is None else None

    def dropout_fault(self, now_s: float) -> str | None:
        """The fault code once the dropouts last too long (DESIGN.md section 3), else None."""
        valid_s = self.valid.taken_s if self.valid is not None else self._watched_s
        dropouts, code = self.dropouts, None
        if valid_s is not None and now_s - valid_s >= STALE_FAULT_S:
            code = dropouts.code if dropouts.since_s is not None else SENSOR_STALE
        elif dropouts.bad_s_within(now_s, INTERMITTENT_WINDOW_S) >= INTERMITTENT_BAD_S:
            code = dropouts.code or r.UNREADABLE
        return code and (self.fault_code or code)

    def forgive(self) -> None:
        """A person acknowledged the faults: past dropouts no longer count."""
        self.dropouts = _Dropouts()


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
    ends when its count runs out. A hold at up to 4/5 duty never builds up (a weak heater in
    a large, pumped basin needs three quarters of the time to hold 39.5 C); heating flat out
    counts second for second, as DESIGN.md states the rule. An episode counts up to its lag
    allowance and window only, so that after a long warm-up an off time as long as the lag
    gives the next heating its allowance again. (A probe cooling in the air keeps making new
    lows: the fall rule catches that.)
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
            # A long episode banks no credit: after an off time as long as the lag, the next
            # heating starts a fresh episode with its own allowance for the lag.
            self.episode_s = min(self.episode_s + dt_s, PROBE_LAG_S + self.window_s)
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

    def __init__(self, limits: Limits | None = None, *, check_probe: bool = False,
                 safety_relay: bool = False) -> None:
        """check_probe: a second thermometer is fitted and passed to every tick. safety_relay:
        a second relay in series with the heater is fitted (see Verdict.safety_relay)."""
        self.limits = limits or Limits()
        self.safety_relay = safety_relay
        self._faults: dict[str, Fault] = {}
        self._session = False
        self._max_heater_on_s = 0.0
        self._heater_on_s = 0.0
        self._last_now_s: float | None = None
        self._main = _Probe()
        self._check = _Probe(CHECK_SENSOR) if check_probe else None
        self._disagree_since_s: float | None = None
        self._safety_closed = False  # as the last verdict left it
        self._heated = False  # the heater has been on in this session
        self._below_since_s: float | None = None  # the reading well below the target's allowance
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
        self._heated = False
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
        for probe in self._probes:
            probe.forgive()
        self._heating.reset()
        return cleared

    def _still_holds(self, code: str, now_s: float) -> str | None:
        fresh = self._main.fresh_c(now_s)
        check = self._check.fresh_c(now_s) if self._check is not None else None
        if code == OVERHEAT:
            if fresh is None:
                return "there is no valid reading to show the water has cooled; check the probe"
            fresh = self._hottest_c(now_s)
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
        elif code in (CHECK_SENSOR, PROBES_DISAGREE) and check is None:
            return "the second thermometer still gives no valid reading; check its plug and wires"
        elif code == PROBES_DISAGREE and fresh is not None and abs(fresh - check) > PROBES_AGREE_C:
            return (f"the thermometers still disagree ({fresh:.1f} C and {check:.1f} C); check that both "
                    f"probes are in the water")
        elif fresh is None:  # every other fault needs a working thermometer to start again
            return "the thermometer still gives no valid reading; check the probe's plug and wires"
        return None

    # -- every tick ---------------------------------------------------------------------

    def tick(self, *, now_s: float, reading: Reading | None, heat_wanted: bool, heating_phase: bool,
             target_c: float | None, heater_driven: bool, water_present: bool | None = None,
             estimate_c: float | None = None, check: Reading | None = None) -> Verdict:
        """Judge one moment.

        reading: the newest reading (the same one again is fine: only a newer taken_s counts
        as a new read). heat_wanted: the control law's wish. heating_phase: the session is
        warming, waiting for the feet or soaking. heater_driven: the heater output as driven
        since the last tick. water_present: the float switch, None when none is fitted.
        estimate_c: the control law's estimate of the water now, through the probe's lag;
        with one, the reading may pass the target by ABOVE_TARGET_C while the estimate is
        below it; without one (a law that keeps no model), the reading must stay below it.
        check: the second thermometer's newest reading, when one is fitted.
        """
        _check_time(now_s)
        dt_s = 0.0 if self._last_now_s is None else max(0.0, now_s - self._last_now_s)
        self._last_now_s = now_s if self._last_now_s is None else max(now_s, self._last_now_s)
        new: list[Fault] = []

        if heater_driven:
            if self._session:
                self._heater_on_s += dt_s
                self._heated = True
            self._off_since_s = None
        elif self._off_since_s is None:
            self._off_since_s = now_s - dt_s
        self._heating.advance(dt_s=dt_s, heater_on=heater_driven)

        if not (self._session and heating_phase):
            self._heating_since_s = None
        elif self._heating_since_s is None:
            self._heating_since_s = now_s
        if self._main.take(reading, now_s) and reading.ok:
            self._read(reading, now_s, new, target_c)
        if (self._check is not None and self._check.take(check, now_s) and check.ok
                and check.water_c >= self.limits.overheat_c):
            self._latch(OVERHEAT, now_s, new, message=_overheat_message(check.water_c, self.limits))
        for probe in self._probes:
            if code := probe.dropout_fault(now_s):
                self._latch(code, now_s, new)
        self._compare_probes(now_s, new)

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
        closed_before = self._safety_closed
        self._safety_closed = self.safety_relay and self._may_close_safety_relay(
            heating_phase, target_c, water_present, estimate_c, heater_driven)
        if self.safety_relay and not closed_before:
            reasons += (SAFETY_RELAY_OPEN,)  # it closes first, so that it never makes the load
        fine = not self._faults and water_present is not False
        return Verdict(heater=not reasons, pump_allowed=fine, vibration_allowed=fine,
                       reasons=reasons, faults=self.faults, new_faults=tuple(new),
                       locked=not self._session, safety_relay=self._safety_closed)

    # -- inside -------------------------------------------------------------------------

    @property
    def _probes(self) -> tuple[_Probe, ...]:
        return (self._main,) if self._check is None else (self._main, self._check)

    def _hottest_c(self, now_s: float) -> float | None:
        """The higher of the fresh readings: what the ceiling and over-temperature rules use."""
        fresh = [c for probe in self._probes if (c := probe.fresh_c(now_s)) is not None]
        return max(fresh, default=None)

    def _compare_probes(self, now_s: float, new: list[Fault]) -> None:
        """Two probes in the same water agree within PROBES_AGREE_C; apart for DISAGREE_FAULT_S
        one of them is failing (a probe drifting low would let the water overheat unseen)."""
        if self._check is None:
            return
        main, check = self._main.fresh_c(now_s), self._check.fresh_c(now_s)
        if main is None or check is None:
            return  # a dropout is judged as such; the clock neither runs nor restarts
        if abs(main - check) <= PROBES_AGREE_C:
            self._disagree_since_s = None
        elif self._disagree_since_s is None:
            self._disagree_since_s = now_s
        elif now_s - self._disagree_since_s >= DISAGREE_FAULT_S:
            self._latch(PROBES_DISAGREE, now_s, new)

    def _may_close_safety_relay(self, heating_phase: bool, target_c: float | None,
                                water_present: bool | None, estimate_c: float | None,
                                heater_driven: bool) -> bool:
        """Closed only while the session may heat: in a heating phase, with no fault, water in
        the basin, heater time left, and the water (by the last valid readings, so a glitch
        does not open it) below where the heater must stop. Opened for the temperature only
        once the heater relay is open, so that it never breaks the load either; at a fault,
        at once: that is what it is for. Once open, it closes again only with the water
        SAFETY_HYSTERESIS_C clear of those limits: a reading flickering by its last bit must
        not make it chatter (behind a welded heater relay it switches the load)."""
        if not (self._session and heating_phase) or self._faults or water_present is False:
            return False
        if self._heater_on_s >= self._max_heater_on_s:
            return False
        valid = [probe.valid.water_c for probe in self._probes if probe.valid is not None]
        if not valid or not _finite(target_c):
            return False
        clear_c = 0.0 if self._safety_closed else SAFETY_HYSTERESIS_C
        main_c = self._main.valid.water_c if self._main.valid else max(valid)
        hot = max(valid) + clear_c >= self.limits.ceiling_c or _above_target(
            main_c + clear_c, None if estimate_c is None else estimate_c + clear_c, target_c,
            self.limits.ceiling_c)
        return not hot or heater_driven

    def _read(self, reading: Reading, now_s: float, new: list[Fault], target_c: float | None) -> None:
        """Every rule that looks at the main probe's valid readings."""
        water_c = reading.water_c
        self._history.add(reading.taken_s, water_c)

        hottest = max(water_c, self._hottest_c(now_s) or water_c)
        if hottest >= self.limits.overheat_c:
            self._latch(OVERHEAT, now_s, new, message=_overheat_message(hottest, self.limits))

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

        if self._relay_stuck(reading.taken_s) or self._rewarmed(reading.taken_s, water_c, target_c):
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
        same_since_s = self._history.same_since_s
        return taken_s - max(same_since_s, heating_since_s) >= 0.9 * FROZEN_S

    def _rewarmed(self, taken_s: float, water_c: float, target_c: float | None) -> bool:
        """The water warmed back over the target's allowance with the heater off for minutes.

        With a safety relay fitted, a welded heater relay warms the water only until the
        safety relay opens at the target's allowance; the water cools, the safety relay closes,
        and it warms again: contained, but a slow saw-tooth the rate rule above may never see.
        A healthy bath cannot do it: REWARM_OFF_S after its last pulse the heat has reached
        the probe, and then the water only cools. So a reading that has been well below the
        allowance (REWARM_DIP_C, for REWARM_BELOW_S) and comes back over it, in a session
        that has heated, with the heater off all the while, is a stuck relay. (A fill warmer
        than the target climbs through it only once, before its first pulse's heat arrives.)"""
        if self._heating_since_s is None or not _finite(target_c):
            self._below_since_s = None
            return False
        allowance_c = min(target_c, self.limits.ceiling_c) + ABOVE_TARGET_C
        if water_c < allowance_c - REWARM_DIP_C:
            self._below_since_s = self._below_since_s if self._below_since_s is not None else taken_s
            return False
        if water_c < allowance_c:
            return False
        below_s = self._below_since_s
        self._below_since_s = None
        heater_off_s = taken_s - self._off_since_s if self._off_since_s is not None else 0.0
        return (self._heated and below_s is not None and taken_s - below_s >= REWARM_BELOW_S
                and heater_off_s >= REWARM_OFF_S)

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
        off = [why for probe in self._probes if (why := probe.off_reason(now_s))]
        if off:  # either probe: the second one must vouch for the first
            reasons.extend(sorted(set(off), key=off.index))
        else:
            if self._hottest_c(now_s) >= self.limits.ceiling_c:
                reasons.append(AT_CEILING)
            if not _finite(target_c) or _above_target(self._main.fresh_c(now_s), estimate_c, target_c,
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
