"""The heater's control law: should the heater be on, given the last reading and the target?

Pure and time-injected: `tick(now_s=..., water_c=..., target_c=...) -> bool`, called once per
reading; the adapter drives the relay and the safety supervisor can still veto it. Both laws
here share three rules:
- no valid reading (None) means off at once;
- a reading at or above the target means off at once (DESIGN.md section 3: the heater may be
  on only while the water is below the target); a law that estimates the water through the
  probe's lag may let the reading pass the target by `ABOVE_TARGET_C` while its estimate is
  below the target, as the supervisor allows, and never to the ceiling;
- otherwise a mechanical relay's minimum on and off times and its switching budget are
  respected, because each closure under load wears the contacts (about 100,000 closures at
  rated load).

`BangBang` is the plain thermostat hobby brewing controllers use. `HeaterControl` predicts
the water through the probe's lag and switches in few, well-placed pulses.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from typing import Protocol

from routines.model import CEILING_C

from .errors import HardwareError
from .physics import WATER_J_PER_L_K
from .safety import ABOVE_TARGET_C

MIN_ON_S = 10.0
MIN_OFF_S = 10.0
HOUR_S = 3600.0
# The open basin of DESIGN.md section 6 loses about 120 W at 38 C for 5 L, 16 C above a room.
REFERENCE_LOSS_W, REFERENCE_LITRES, REFERENCE_C, REFERENCE_ABOVE_ROOM_C = 120.0, 5.0, 38.0, 16.0


class ControlLaw(Protocol):
    """What the bath controller asks of a heater control law (HeaterControl, BangBang)."""

    def tick(self, *, now_s: float, water_c: float | None, target_c: float) -> bool: ...

    def overruled(self, *, now_s: float) -> None: ...


class Relay:
    """A mechanical relay's switching rules: minimum on and off times, a switching budget (at
    most `max_closures_per_h` cycles begun in any hour), and the safety cut that overrides them.

    An interruption (`interrupt`: a bad reading, a supervisor's veto) is not the law's choice:
    for RESUME_WITHIN_S after it the relay may close again at once, and that closure resumes
    the cycle it interrupted instead of opening a new one, so a glitch never holds back a
    warm-up or a pulse. A cut by the law's own rules (`set(..., cut=True)`) gives no such
    right: resuming at once there would chatter."""

    RESUME_WITHIN_S = 30.0  # longer than any sensor dropout that is not yet a fault (10 s)

    def __init__(self, *, min_on_s: float = MIN_ON_S, min_off_s: float = MIN_OFF_S,
                 max_closures_per_h: float = math.inf):
        if min_on_s < 0 or min_off_s < 0 or not max_closures_per_h >= 1:
            raise HardwareError("relay minimum on and off times must be at least 0 s and its budget "
                                "at least one closure an hour")
        self.min_on_s, self.min_off_s, self.max_closures_per_h = min_on_s, min_off_s, max_closures_per_h
        self.on = False
        self.changed_s: float | None = None  # when the relay last opened or closed
        self.closed_s: float | None = None  # when the cycle now running (or the last) began
        self.cut_s: float | None = None  # when a cut interrupted it, while that may be resumed
        self.closures = 0  # every closure of the contacts, resumptions too
        self._cycles: deque[float] = deque()  # when each cycle of the last hour began

    def interrupted(self, now_s: float) -> bool:
        """Whether a cut opened the relay recently enough that closing it resumes the cycle."""
        return self.cut_s is not None and now_s - self.cut_s <= self.RESUME_WITHIN_S

    def budget_left(self, now_s: float) -> bool:
        """Whether a new cycle fits the switching budget (the last hour's cycles)."""
        while self._cycles and now_s - self._cycles[0] >= HOUR_S:
            self._cycles.popleft()
        return len(self._cycles) < self.max_closures_per_h

    def can_close(self, now_s: float) -> bool:
        return self.interrupted(now_s) or (
            (self.changed_s is None or now_s - self.changed_s >= self.min_off_s) and self.budget_left(now_s))

    def interrupt(self, now_s: float) -> bool:
        """Open at once for a cause outside the law; the cycle may be resumed (see above)."""
        if self.on:
            self.on, self.changed_s, self.cut_s = False, now_s, now_s
        return False

    def set(self, now_s: float, want_on: bool, *, cut: bool = False) -> bool:
        """Move toward want_on where the timing rules allow; `cut` opens at once, whatever."""
        if cut:
            if self.on:
                self.on, self.changed_s = False, now_s
            self.cut_s = None
        elif not want_on and self.on and now_s - self.changed_s >= self.min_on_s:
            self.on, self.changed_s = False, now_s
        elif want_on and not self.on and self.can_close(now_s):
            if not self.interrupted(now_s):
                self.closed_s = now_s
                self._cycles.append(now_s)
            self.on, self.changed_s, self.cut_s = True, now_s, None
            self.closures += 1
        elif not want_on and not self.on:
            self.cut_s = None  # the law no longer wants what the cut interrupted
        return self.on


class BangBang:
    """Hysteresis as CraftBeerPi's "Hysteresis" logic does it: on below target - band_c,
    off at the target. (The other common form, target +- band/2, keeps heating above the
    target, which the safety rules forbid.) In still water the probe's lag makes it overshoot
    by more than a degree; it is here as the yardstick."""

    def __init__(self, band_c: float = 0.3, *, min_on_s: float = MIN_ON_S, min_off_s: float = MIN_OFF_S):
        if band_c <= 0:
            raise HardwareError(f"bang-bang band must be above 0 C, got {band_c}")
        self.band_c = band_c
        self.relay = Relay(min_on_s=min_on_s, min_off_s=min_off_s)

    def tick(self, *, now_s: float, water_c: float | None, target_c: float) -> bool:
        if water_c is None:
            return self.relay.interrupt(now_s)
        if water_c >= target_c:
            return self.relay.set(now_s, False, cut=True)
        want = water_c < target_c - self.band_c or self.relay.on or self.relay.interrupted(now_s)
        return self.relay.set(now_s, want)

    def overruled(self, *, now_s: float) -> None:
        """The supervisor kept the heater off although this law asked for it."""
        self.relay.interrupt(now_s)


def _lag_ramp(value: float, start: float, end: float, dt_s: float, tau_s: float) -> float:
    """A first-order lag advanced exactly over dt_s while its input ramps from start to end."""
    slope_tau = (end - start) / dt_s * tau_s if dt_s > 0 else 0.0
    return end - slope_tau + (value - start + slope_tau) * math.exp(-dt_s / tau_s)


class _ProbeGuess:
    """One guess of how the probe sees the water (a mixing delay, then a first-order lag), with
    the basin's rates fitted through it and a score of how well it foretells the readings.

    What it watches are cumulative inputs as its probe would see them (the element's heat,
    the feet's, and the time the losses have been acting), so the rates are fitted on the
    readings' own changes, never on a derivative of them."""

    __slots__ = ("cov", "delay_s", "feet_j", "heat_j", "sample", "score", "smooth", "tau_s", "theta")

    def __init__(self, delay_s: float, tau_s: float, theta: list[float], cov: tuple[float, ...],
                 score: float):
        self.delay_s, self.tau_s = delay_s, tau_s
        self.heat_j = self.feet_j = 0.0  # the probe's view of the element's and the feet's heat, J
        self.smooth = [0.0, 0.0, 0.0]  # heat, feet and loss time seen, smoothed as the readings are
        self.sample: list[float] | None = None  # the same at the last block's end
        self.theta = list(theta)  # rate K/J, loss K/s at REFERENCE_C, cooling 1/s per K above it
        self.cov = cov  # the rates' covariance, symmetric: (00, 01, 02, 11, 12, 22)
        self.score = score  # weighted mean square of its forecasts' errors, in noise variances

    @property
    def lag_s(self) -> float:
        return self.delay_s + self.tau_s

    def loss_seen_s(self, elapsed_s: float) -> float:
        """How long the losses have acted on the water the probe shows: the water before the
        law's first reading is taken as steady (a fresh fill), so none at first; then the
        elapsed time through the delay and the lag (a ramp's exact response)."""
        ramp_s = elapsed_s - self.delay_s
        if ramp_s <= 0:
            return 0.0
        if ramp_s > 30 * self.tau_s:  # the lag's start has long died away
            return ramp_s - self.tau_s
        return ramp_s - self.tau_s * (1 - math.exp(-ramp_s / self.tau_s))


class _Forecast:
    """The water and the reading every FORECAST_STEP_S from now: with the relay open from now
    (free), and what closing it now and keeping it closed adds (step). The basin is linear, so
    a pulse of n steps adds step[k] - step[k - n] (see HeaterControl._pulse_cost)."""

    __slots__ = ("reading", "reading_step", "water", "water_step")

    def __init__(self, water, reading, water_step, reading_step):
        self.water, self.reading = water, reading
        self.water_step, self.reading_step = water_step, reading_step


class HeaterControl:
    """Model-predictive heater control for a lumped basin with a lagging probe.

    Why: in still water the probe sees a change over a minute late and the element's sheath
    keeps heating for tens of seconds after the relay opens, so switching on the reading
    overshoots by over a degree. This law keeps account of the heat put into the water, driven
    by the relay and the configured heater_w, and learns from the readings what it is not told:
    - the probe's lag: each of a bank of delay-and-lag guesses foretells the readings' changes
      through its own lag, and the one that foretells them best is trusted (the knees at the
      start and end of every heating tell them apart); until the readings say otherwise it
      assumes still water, the cautious case;
    - the basin's heating rate (its litres) and its losses, fitted through each guess by
      recursive least squares of the readings' changes over 10-s blocks against the heat, and
      the time the losses have acted, as that guess's probe sees them.
    The estimate of the water now is the smoothed reading plus what the trusted guess says the
    probe has not seen yet (the heat of the last lag, less its losses): a Smith predictor, so
    no steady error. A change no guess foresaw (feet no one announced, a fresh fill) is a
    disturbance, and nothing is learnt from it.

    Warming runs at full power until the predicted peak of the water (the heat still in the
    element, less the losses), plus WARM_SIGMAS deviations of what the fitted rates leave
    uncertain, reaches the target less `warm_margin_c`. A steady warm-up shows the heating
    less the losses, not each: the first one's end is their first sight apart, so no pulse
    follows until the probe has seen it. Holding is done in pulses, one each
    `3600 / max_closures_per_h` s; water found far below the target (FAR_C; RECOVER_C while
    feet take their heat) is warmed as soon as the relay allows, within the hour's budget.
    Each pulse's length is chosen on a forecast: the one that keeps the water closest to the
    target, on average, until the next pulse can start, with the water's peak within
    `peak_cap_c` of the target and the reading forecast to stay below its limit (the target +
    ABOVE_TARGET_C, never the ceiling) through the pulse and at the next start. Both limits
    are the supervisor's: the law keeps clear of them rather than leaning on them.

    Feet going in (`feet_in`, the tap that starts the soak) are a known disturbance at a known
    moment: the law assumes they take `feet_j` (about 2 kg of feet and ankles, 3.5 kJ/kg/K,
    warming some 6 C at the skin: 40 kJ) with a time constant of `feet_tau_s`, and heats at
    once. Feet differ (a child's take half that), so until the probe shows their draw the
    warming counts their heat as uncertain by FEET_SPREAD and stops that much short; the
    readings then scale the assumption (0.25-3 times) and the rest is made up. What they keep
    drawing afterwards is learnt as a loss.
    """

    DELAYS_S = (0.0, 5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 75.0)
    TAUS_S = (5.0, 10.0, 20.0, 30.0, 40.0)
    STILL_GUESS = (45.0, 30.0)  # assumed until the readings say otherwise: the cautious one
    PRIOR_SCORE = 0.1  # noise variances against the other guesses: one knee outweighs it
    SMOOTH_S = 5.0  # the readings' smoothing (the sensor's 1/16 C steps and noise)
    BLOCK_S = 10.0  # the fit's sampling: long enough for the readings to move
    BLOCK_NOISE_C = 0.015  # the noise of the smoothed reading's change over a block (0.011 measured)
    SCORE_TAU_S = 600.0  # how long a guess's misfits are remembered
    FIT_MEMORY_S = 1800.0  # the rate fit forgets older blocks over this time
    DISTURBANCE = 5.0  # a change this many deviations from every guess's forecast is no evidence
    SETTLED = 3.0  # ...and one explained within this many again is the disturbance over
    QUIET_MAX_S = 600.0  # however long it seems to last, learning resumes after this
    HUBER = 3.0  # an error beyond this many deviations moves the rates as one this size would
    RATE_SPREAD, LOSS_SPREAD, FEET_SPREAD = 0.3, 0.6, 0.5  # the priors': litres, losses, feet
    # Within physics, against the prior: half to twice the litres; an open basin always loses
    # heat at 38 C, more the warmer it is, and never five times what the reference one does.
    BOUNDS = ((0.5, 2.0), (0.2, 5.0), (0.0, 5.0))
    FEET_NOISE_C = 0.05  # the misfit of a block while they do: the model's own errors at a knee
    FEET_QUIET = 3.0  # the feet's time constants learning waits for (5 % of their heat left)
    WARM_SIGMAS = 1.0  # warming stops this many deviations of the peak short of the target
    FAR_C = 0.6  # the water this far below: warming (or recovering), not holding
    RECOVER_C = 0.3  # ...and while the feet take their heat, this far (what Ready allows)
    FORECAST_STEP_S = 2.0
    GUARD_C = 0.1  # the forecast reading stays this far below its limit (1/16 C steps, noise)
    USEFUL_PULSE = 0.5  # of the pulse that replaces a cycle's losses: shorter wastes a closure
    WAIT_S = 120.0  # how much longer than the pacing a planned cycle may last
    PLAN_STRIDE = 3  # the pulse lengths first tried are this many forecast steps apart

    def __init__(self, *, heater_w: float = 500.0, litres: float = 5.0, min_on_s: float = MIN_ON_S,
                 min_off_s: float = MIN_OFF_S, max_closures_per_h: float = 30.0,
                 element_tau_s: float = 20.0, loss_w: float | None = None, room_c: float = 22.0,
                 ceiling_c: float = CEILING_C, warm_margin_c: float = 0.0, peak_cap_c: float = 0.25,
                 feet_j: float = 40e3, feet_tau_s: float = 30.0):
        if heater_w <= 0 or litres <= 0 or max_closures_per_h < 1 or element_tau_s <= 0 or feet_tau_s <= 0:
            raise HardwareError("heater control needs heater_w, litres, element_tau_s and feet_tau_s "
                                "above 0 and at least one closure an hour: check the bath section "
                                "of the config")
        if not 0 < ceiling_c <= CEILING_C:
            raise HardwareError(f"ceiling_c must be above 0 and at most {CEILING_C} C, got {ceiling_c}")
        self.heater_w, self.element_tau_s, self.ceiling_c = heater_w, element_tau_s, ceiling_c
        self.warm_margin_c, self.peak_cap_c = warm_margin_c, peak_cap_c
        self.feet_j, self.feet_tau_s = feet_j, feet_tau_s
        self.relay = Relay(min_on_s=min_on_s, min_off_s=min_off_s, max_closures_per_h=max_closures_per_h)
        self.cycle_s = HOUR_S / max_closures_per_h  # the pulses' pacing
        guess_w = loss_w if loss_w is not None else REFERENCE_LOSS_W * (litres / REFERENCE_LITRES) ** (2 / 3)
        # The fitted basin: dT/dt = rate * heat_w - loss - cooling * (T - REFERENCE_C), per s.
        rate = 1 / (WATER_J_PER_L_K * litres)
        loss = guess_w * (REFERENCE_C - room_c) / REFERENCE_ABOVE_ROOM_C * rate
        cooling = guess_w / REFERENCE_ABOVE_ROOM_C * rate
        self._prior = (rate, loss, cooling)
        spreads = (self.RATE_SPREAD, self.LOSS_SPREAD, self.LOSS_SPREAD)
        self._prior_var = [(s * p) ** 2 for s, p in zip(spreads, self._prior, strict=True)]
        cov = (self._prior_var[0], 0.0, 0.0, self._prior_var[1], 0.0, self._prior_var[2])
        self._guesses = [
            _ProbeGuess(d, t, list(self._prior), cov, 0.0 if (d, t) == self.STILL_GUESS else self.PRIOR_SCORE)
            for d in self.DELAYS_S for t in self.TAUS_S]
        self._best = min(self._guesses, key=lambda g: g.score)
        self._now_s: float | None = None
        self._heat_j = 0.0  # the element's heat put into the water so far
        self._element_w = 0.0  # the element's heat flow now
        self._feet_j_so_far = 0.0  # the feet's assumed heat taken so far, per unit of feet_scale
        self._feet_s: float | None = None  # when the feet went in
        self._feet_scale = 1.0  # what the readings say of the assumed feet_j
        self._feet_fit = (0.0, 0.0)  # the feet scale's least squares: sum r*f, sum f*f
        self._history: deque[tuple[float, float, float]] = deque()  # (s, heat J, feet J)
        self._inputs: dict[float, tuple[float, float]] = {}  # per delay: (heat, feet) it sees now
        self._smooth_c = 0.0  # the smoothed reading
        self._excess_c = 0.0  # the same above REFERENCE_C
        self._started_s = self._seen_s = 0.0  # the first and the last valid reading
        self._block_s = 0.0  # when the block under way began
        self._block_c: float | None = None  # the smoothed reading then (None: no block yet)
        self._quiet_until_s = -math.inf  # no learning until then (feet, a disturbance)
        self._disturbed_s = -math.inf  # when the last disturbance began
        self._estimate_c: float | None = None
        self._pulse_end_s: float | None = None  # when the planned pulse ends (None: warming)
        self._settle_until_s = -math.inf  # no planned pulse before (the first warm-up's end unseen)

    # What it knows, for the record and the benchmark.

    @property
    def estimate_c(self) -> float | None:
        """The estimated water temperature now (None before the first reading)."""
        return self._estimate_c

    @property
    def lag_s(self) -> float | None:
        """The probe's lag it currently believes (mixing delay plus time constant)."""
        return self._best.lag_s if self._now_s is not None else None

    @property
    def capacity_j_per_k(self) -> float:
        """The water's heat capacity it currently believes (4186 J/K per litre)."""
        return 1 / self._best.theta[0]

    @property
    def loss_w(self) -> float:
        """The basin's loss at REFERENCE_C it currently believes."""
        return self._best.theta[1] / self._best.theta[0]

    # The law.

    def tick(self, *, now_s: float, water_c: float | None, target_c: float) -> bool:
        """Whether the heater should be on from now; call once per reading, None when bad."""
        self._advance(now_s)
        if water_c is None:
            self._block_c = None  # a block's change across a dropout says nothing
            return self.relay.interrupt(now_s)
        self._observe(now_s, water_c)
        aim_c = min(target_c, self.ceiling_c)
        limit_c = min(target_c + ABOVE_TARGET_C, self.ceiling_c)
        if water_c >= limit_c or self._estimate_c >= aim_c:
            return self.relay.set(now_s, False, cut=True)
        return self.relay.set(now_s, self._decide(now_s, water_c, aim_c, limit_c))

    def overruled(self, *, now_s: float) -> None:
        """The supervisor kept the heater off although this law asked for it: the relay is
        open, and the model must know (it runs on what was driven, not on what was asked)."""
        self.relay.interrupt(now_s)

    def feet_in(self, *, now_s: float) -> None:
        """The customer has put their feet in (the tap that starts the soak): a known
        disturbance, announced at a known moment. The law heats at once to make up for it."""
        if self._feet_s is None and self._now_s is not None:
            self._advance(now_s)
            self._feet_s = now_s
            self._feet_fit = (0.0, 0.0)
            self._pulse_end_s = None  # a pulse under way becomes the recovery's warming
            # Their heat is mostly taken after FEET_QUIET time constants, and the probe shows it
            # a lag later: until then only their share is fitted.
            quiet_s = self.FEET_QUIET * self.feet_tau_s + self._best.lag_s + self.BLOCK_S
            self._quiet_until_s = max(self._quiet_until_s, now_s + quiet_s)

    def _decide(self, now_s: float, water_c: float, aim_c: float, limit_c: float) -> bool:
        """What the law wants once the safety rules allow heat: go on warming or with a planned
        pulse, warm water found far below at once, or start a pulse when the pacing allows."""
        peak_c = self._peak_c()
        reach_c = peak_c + self.WARM_SIGMAS * self._coast_deviation_c()
        resuming = not self.relay.on and self.relay.interrupted(now_s)
        if self.relay.on or resuming:
            if self._pulse_end_s is None:  # warming: until the predicted peak is nearly there
                if reach_c < aim_c - self.warm_margin_c:
                    return True
                if self._settle_until_s == -math.inf:
                    # The first warm-up, a steady climb, tells the heating rate from the losses
                    # only where it ends: no pulse until the probe has seen that end.
                    self._settle_until_s = now_s + self._best.lag_s + self.element_tau_s
                return False
            if resuming:  # a cut interrupted the pulse: it keeps the length it was planned with
                self._pulse_end_s += now_s - self.relay.cut_s
            # A planned pulse; cut short only if the water turned out warmer than forecast.
            return now_s < self._pulse_end_s and reach_c < aim_c + self.peak_cap_c
        if not self.relay.can_close(now_s) or water_c >= limit_c - self.GUARD_C:
            return False
        recovering = self._feet_s is not None and now_s < self._quiet_until_s
        if reach_c < aim_c - (self.RECOVER_C if recovering else max(self.FAR_C, 2 * self._half_band_c())):
            self._pulse_end_s = None  # warming, or making up for the feet: no pacing
            return True
        paced = self.relay.closed_s is None or now_s - self.relay.closed_s >= self.cycle_s
        if not paced or now_s < self._settle_until_s or peak_c > aim_c - self._half_band_c():
            return False
        on_s = self._plan_pulse_s(aim_c, limit_c)
        if on_s is None or on_s < self.USEFUL_PULSE * self.cycle_s * self._loss_w(aim_c) / self.heater_w:
            return False  # better wait until the reading leaves room for a proper pulse
        self._pulse_end_s = now_s + on_s
        return True

    def _loss_w(self, water_c: float) -> float:
        """The losses at water_c as the trusted guess's rates have them (at least 1 W)."""
        rate, loss, cooling = self._best.theta
        return max((loss + cooling * (water_c - REFERENCE_C)) / rate, 1.0)

    def _half_band_c(self) -> float:
        """Half the swing a pulse every cycle_s leaves: the heat lost while the water is not
        being heated, from the pulse's peak to the next start."""
        loss_w = self._loss_w(self._estimate_c)
        on_s = self.cycle_s * loss_w / self.heater_w
        rising_s = on_s + self.element_tau_s * math.log(max(self.heater_w / loss_w, 1.0))
        return max(0.05, loss_w * max(self.cycle_s - rising_s, 0.0) * self._best.theta[0] / 2)

    def _deviation_c(self, heat_j: float, time_s: float) -> float:
        """How uncertain, for the fitted rates' uncertainty, the water is after heat_j more over
        time_s more: the heat and the losses the probe has not yet seen count as much as those
        still to come. (During a steady warm-up only the heat less the losses is well known;
        that is most of what the estimate and the peak depend on.)"""
        guess = self._best
        heat_j += self._heat_j - guess.smooth[0]
        time_s += self._now_s - self._started_s - guess.smooth[2]
        g = (heat_j, -time_s, -time_s * self._excess_c)
        c00, c01, c02, c11, c12, c22 = guess.cov
        var = (g[0] * (c00 * g[0] + 2 * (c01 * g[1] + c02 * g[2])) + g[1] * (c11 * g[1] + 2 * c12 * g[2])
               + c22 * g[2] * g[2])
        return math.sqrt(max(var, 0.0))

    def _coast_deviation_c(self) -> float:
        """The predicted peak's uncertainty if the relay opens now: the element's stored heat
        comes over about its time constant; and the feet's heat the probe has not shown yet,
        as far as the readings have told their share (at first, the assumption's own spread)."""
        rates_c = self._deviation_c(self._element_w * self.element_tau_s, self.element_tau_s)
        if self._feet_s is None:
            return rates_c
        _, sum_ff = self._feet_fit
        scale_sd = 1 / math.sqrt(1 / self.FEET_SPREAD ** 2 + sum_ff / self.FEET_NOISE_C ** 2)
        feet_c = self._best.theta[0] * (self.feet_j - self._best.smooth[1]) * scale_sd  # not yet seen
        return math.hypot(rates_c, feet_c)

    def _peak_c(self) -> float:
        """The water's highest if the relay opens now: on the element's stored heat, less the
        losses, with the feet's assumed heat taken at once (they take it within the coast)."""
        guess, step_s, tau_e = self._best, self.FORECAST_STEP_S, self.element_tau_s
        rate, loss, cooling = guess.theta
        feet_left_j = self.feet_j - self._feet_j_so_far if self._feet_s is not None else 0.0
        water = peak = self._estimate_c - rate * self._feet_scale * feet_left_j
        element_w, give = self._element_w, 1 - math.exp(-step_s / tau_e)
        loss_w = max(self._loss_w(water), 1.0)
        while element_w > loss_w:
            water += rate * element_w * tau_e * give - (loss + cooling * (water - REFERENCE_C)) * step_s
            element_w *= 1 - give
            peak = max(peak, water)
        return peak

    def _plan_pulse_s(self, aim_c: float, limit_c: float) -> float | None:
        """The pulse length that keeps the forecast water closest to the target, on average,
        from now until the next pulse can start: no sooner than the pacing allows and only once
        the forecast reading is below its limit less GUARD_C. The reading must also stay below
        that through the pulse, the water below the target while the relay is closed (the
        estimate's rule), and the water's peak within peak_cap_c, counting its uncertainty as
        warming does. None when not even a minimum pulse fits.

        A longer pulse only warms the forecast, so the longest that fits is found by halving;
        the best below it on a coarse grid, then refined (a tick on a Pi stays short)."""
        forecast = self._forecast(self.cycle_s + self.WAIT_S)
        step_s = self.FORECAST_STEP_S
        shortest = max(math.ceil(self.relay.min_on_s / step_s), 1)
        low, high = shortest - 1, int(self.cycle_s / step_s)  # the longest that fits is in low..high
        while low < high:
            middle = (low + high + 1) // 2
            if self._pulse_cost(forecast, middle, aim_c, limit_c) is None:
                high = middle - 1
            else:
                low = middle
        if low < shortest:
            return None
        costs = {}

        def cost(steps: int) -> float:
            if steps not in costs:
                costs[steps] = self._pulse_cost(forecast, steps, aim_c, limit_c)
            return costs[steps]

        stride = self.PLAN_STRIDE
        coarse = min(range(shortest, low + 1, stride), key=cost)
        best = min(range(max(shortest, coarse - stride + 1), min(low, coarse + stride - 1) + 1), key=cost)
        return best * step_s if cost(best) < math.inf else None

    def _pulse_cost(self, forecast: _Forecast, steps: int, aim_c: float, limit_c: float) -> float | None:
        """The mean square of the forecast water's error with a pulse of `steps` forecast steps,
        from now until the next pulse can start (inf: it never can within the forecast); None
        when the pulse breaks a rule (see _plan_pulse_s)."""
        on_s = steps * self.FORECAST_STEP_S
        deviation_c = self._deviation_c(self.heater_w * on_s + self._element_w * self.element_tau_s,
                                        on_s + self.element_tau_s)
        peak_max_c = aim_c + self.peak_cap_c - self.WARM_SIGMAS * deviation_c
        limit_c -= self.GUARD_C
        first = math.ceil(self.cycle_s / self.FORECAST_STEP_S) - 1  # the index of the next pulse
        wf, rf, ws, rs = forecast.water, forecast.reading, forecast.water_step, forecast.reading_step
        total, after = 0.0, None
        for k in range(len(wf)):
            water = wf[k] + ws[k] - (ws[k - steps] if k >= steps else 0.0)
            reading = rf[k] + rs[k] - (rs[k - steps] if k >= steps else 0.0)
            if water > peak_max_c or (k < steps and water >= aim_c) or (k <= steps and reading >= limit_c):
                return None
            if after is None:
                total += (water - aim_c) ** 2
                if k >= first and reading < limit_c:
                    after = k
        return math.inf if after is None else total / (after + 1)

    def _forecast(self, horizon_s: float) -> _Forecast:
        """The water and the reading every FORECAST_STEP_S over the horizon (see _Forecast):
        the trusted guess's rates and lag, the element's stored heat, the feet's assumed draw."""
        guess, step_s, tau_e = self._best, self.FORECAST_STEP_S, self.element_tau_s
        rate, loss, cooling = guess.theta
        now_s, count = self._now_s, math.ceil(horizon_s / step_s)
        decay_e, decay_p = math.exp(-step_s / tau_e), math.exp(-step_s / guess.tau_s)
        feet_rate = rate * self._feet_scale
        # The water and the heats put in, free (relay open) and as a closure now adds them.
        water, heat, feet = self._estimate_c, self._heat_j, self._feet_j_so_far
        element_w, step_w, step_c, step_j = self._element_w, 0.0, 0.0, 0.0
        waters, heats, feets, step_cs, step_js = [], [heat], [feet], [], [0.0]
        for k in range(1, count + 1):
            element_j = element_w * tau_e * (1 - decay_e)
            element_w *= decay_e
            on_j = self.heater_w * step_s + (step_w - self.heater_w) * tau_e * (1 - decay_e)
            step_w = self.heater_w + (step_w - self.heater_w) * decay_e
            feet_j = self._feet_unit_j(now_s + k * step_s) - feet
            heat, feet, step_j = heat + element_j, feet + feet_j, step_j + on_j
            water += rate * element_j - feet_rate * feet_j - (loss + cooling * (water - REFERENCE_C)) * step_s
            step_c += rate * on_j - cooling * step_c * step_s
            waters.append(water)
            step_cs.append(step_c)
            heats.append(heat)
            feets.append(feet)
            step_js.append(step_j)
        # The reading: the probe's view of those heats, through the delay and then the lag.
        probe_c = self._probe_now_c()
        seen_heat, seen_feet, seen_step = guess.heat_j, guess.feet_j, 0.0
        start_heat, start_feet = seen_heat, seen_feet
        loss_c_per_s = loss + cooling * (self._estimate_c - REFERENCE_C)
        prev = self._delayed(now_s - guess.delay_s, heats, feets, step_js)
        readings, reading_steps = [], []
        for k in range(1, count + 1):
            seen = self._delayed(now_s + k * step_s - guess.delay_s, heats, feets, step_js)
            seen_heat = _lag_ramp(seen_heat, prev[0], seen[0], step_s, guess.tau_s)
            seen_feet = _lag_ramp(seen_feet, prev[1], seen[1], step_s, guess.tau_s)
            seen_step = seen[2] + (seen_step - seen[2]) * decay_p
            prev = seen
            readings.append(probe_c + rate * (seen_heat - start_heat) - feet_rate * (seen_feet - start_feet)
                            - loss_c_per_s * k * step_s)
            reading_steps.append(rate * seen_step)
        return _Forecast(waters, readings, step_cs, reading_steps)

    def _delayed(self, when_s: float, heats, feets, step_js) -> tuple[float, float, float]:
        """The heats (element, feet, a closure now) put in by when_s: from the history before
        now, from the forecast lists after (FORECAST_STEP_S apart from now)."""
        if when_s <= self._now_s:
            heat, feet = self._history_at(when_s)
            return heat, feet, 0.0
        ahead = (when_s - self._now_s) / self.FORECAST_STEP_S
        i = min(int(ahead), len(heats) - 2)
        f = ahead - i
        return (heats[i] + (heats[i + 1] - heats[i]) * f, feets[i] + (feets[i + 1] - feets[i]) * f,
                step_js[i] + (step_js[i + 1] - step_js[i]) * f)

    # The model, the probe guesses and the fit.

    def _feet_unit_j(self, when_s: float) -> float:
        """The feet's assumed heat taken by when_s (before scaling by what the readings say)."""
        if self._feet_s is None or when_s <= self._feet_s:
            return 0.0
        return self.feet_j * (1 - math.exp(-(when_s - self._feet_s) / self.feet_tau_s))

    def _advance(self, now_s: float) -> None:
        """Run the model of the heats from the last tick to now with the relay as it was, and
        each guess's view of them."""
        if self._now_s is None:
            return
        if now_s < self._now_s:
            raise HardwareError(f"time ran backwards ({self._now_s} s, then {now_s} s): "
                                "pass one monotonic clock")
        dt = now_s - self._now_s
        if dt == 0:
            return
        power_w, tau_e = (self.heater_w if self.relay.on else 0.0), self.element_tau_s
        decay = math.exp(-dt / tau_e)
        self._heat_j += power_w * dt + (self._element_w - power_w) * tau_e * (1 - decay)
        self._element_w = power_w + (self._element_w - power_w) * decay
        self._feet_j_so_far = self._feet_unit_j(now_s)
        self._now_s = now_s
        self._history.append((now_s, self._heat_j, self._feet_j_so_far))
        oldest = now_s - max(self.DELAYS_S)
        while len(self._history) > 2 and self._history[1][0] <= oldest:
            self._history.popleft()
        before, self._inputs = self._inputs, {d: self._history_at(now_s - d) for d in self.DELAYS_S}
        feet = self._feet_s is not None
        keeps = {tau: math.exp(-dt / tau) for tau in self.TAUS_S}
        for guess in self._guesses:
            (heat0, feet0), (heat1, feet1) = before[guess.delay_s], self._inputs[guess.delay_s]
            keep = keeps[guess.tau_s]
            slope_tau = (heat1 - heat0) / dt * guess.tau_s
            guess.heat_j = heat1 - slope_tau + (guess.heat_j - heat0 + slope_tau) * keep
            if feet:
                slope_tau = (feet1 - feet0) / dt * guess.tau_s
                guess.feet_j = feet1 - slope_tau + (guess.feet_j - feet0 + slope_tau) * keep

    def _history_at(self, when_s: float) -> tuple[float, float]:
        """The heats put in by an earlier moment (linear in between)."""
        history = self._history
        i = bisect.bisect_right(history, when_s, key=lambda entry: entry[0])
        if i == 0:
            return history[0][1:]
        if i == len(history):
            return history[-1][1:]
        (t0, h0, f0), (t1, h1, f1) = history[i - 1], history[i]
        f = (when_s - t0) / (t1 - t0)
        return h0 + (h1 - h0) * f, f0 + (f1 - f0) * f

    def _observe(self, now_s: float, water_c: float) -> None:
        """Smooth the reading and each guess's view alike, fit the guesses each block, and
        update the estimate."""
        if self._now_s is None:
            self._now_s = self._started_s = self._seen_s = self._block_s = now_s
            self._history.append((now_s, 0.0, 0.0))
            self._inputs = dict.fromkeys(self.DELAYS_S, (0.0, 0.0))
            self._smooth_c = water_c
        dt, self._seen_s = now_s - self._seen_s, now_s
        keep = math.exp(-dt / self.SMOOTH_S)
        self._smooth_c = water_c + (self._smooth_c - water_c) * keep
        elapsed_s = now_s - self._started_s
        for guess in self._guesses:
            smooth = guess.smooth
            smooth[0] = guess.heat_j + (smooth[0] - guess.heat_j) * keep
            smooth[1] = guess.feet_j + (smooth[1] - guess.feet_j) * keep
            seen_s = guess.loss_seen_s(elapsed_s)
            smooth[2] = seen_s + (smooth[2] - seen_s) * keep
        self._excess_c = self._smooth_c - REFERENCE_C
        if now_s - self._block_s >= self.BLOCK_S:
            self._fit(now_s)
        self._estimate_c = self._estimate_of(self._best)

    def _probe_now_c(self) -> float:
        """The reading now without its noise: the smoothed one, brought up to now."""
        guess = self._best
        rate, loss, cooling = guess.theta
        loss_c_per_s = loss + cooling * self._excess_c
        elapsed_s = self._now_s - self._started_s
        return (self._smooth_c + rate * (guess.heat_j - guess.smooth[0])
                - rate * self._feet_scale * (guess.feet_j - guess.smooth[1])
                - loss_c_per_s * (guess.loss_seen_s(elapsed_s) - guess.smooth[2]))

    def _estimate_of(self, guess: _ProbeGuess) -> float:
        """The water now as this guess sees it: the smoothed reading plus the heat the probe
        has not seen yet (less the feet's), less the losses it has not seen yet."""
        rate, loss, cooling = guess.theta
        smooth = guess.smooth
        unseen_s = self._now_s - self._started_s - smooth[2]
        return (self._smooth_c + rate * (self._heat_j - smooth[0])
                - rate * self._feet_scale * (self._feet_j_so_far - smooth[1])
                - (loss + cooling * self._excess_c) * unseen_s)

    def _fit(self, now_s: float) -> None:
        """Close a block: score each guess on how well it foretold the change of the smoothed
        reading since the last block's end, then update its rates (recursive least squares):
            change = rate * (heat - feet_scale * feet) - (loss + cooling * excess) * loss_time
        where heat, feet and loss_time are the changes of those inputs as that guess's probe
        sees them, and excess is the smoothed reading's mean above REFERENCE_C."""
        dt, self._block_s = now_s - self._block_s, now_s
        last_c, self._block_c = self._block_c, self._smooth_c
        samples = [(g, g.sample) for g in self._guesses]
        for guess in self._guesses:
            guess.sample = list(guess.smooth)
        if last_c is None:
            return
        change_c, excess_c = self._smooth_c - last_c, (self._smooth_c + last_c) / 2 - REFERENCE_C
        noise2 = self.BLOCK_NOISE_C ** 2
        rows = []
        for guess, before in samples:
            now = guess.sample
            heat, feet, loss_s = now[0] - before[0], now[1] - before[1], now[2] - before[2]
            x0, x1, x2 = x = (heat - self._feet_scale * feet, -loss_s, -loss_s * excess_c)
            c00, c01, c02, c11, c12, c22 = guess.cov
            px = (c00 * x0 + c01 * x1 + c02 * x2, c01 * x0 + c11 * x1 + c12 * x2,
                  c02 * x0 + c12 * x1 + c22 * x2)
            spread = noise2 + x0 * px[0] + x1 * px[1] + x2 * px[2]
            th = guess.theta
            error = change_c - (th[0] * x0 + th[1] * x1 + th[2] * x2)
            rows.append((guess, x, px, spread, error, feet))
        surprise = min(error * error / spread for _, _, _, spread, error, _ in rows)
        if now_s < self._quiet_until_s:
            if surprise > self.SETTLED ** 2 and self._feet_s is None:  # not over yet
                self._quiet_until_s = min(now_s + self._quiet_s(), self._disturbed_s + self.QUIET_MAX_S)
            self._fit_feet(rows, change_c)
            return
        if surprise > self.DISTURBANCE ** 2:
            # No guess foresaw it: the water changed for a reason the model does not know (feet
            # no one announced, a top-up of water). Learn nothing until every lag has shown it.
            self._disturbed_s = now_s
            self._quiet_until_s = now_s + self._quiet_s()
            return
        w_score = 1 - math.exp(-dt / self.SCORE_TAU_S)
        forget = math.exp(-dt / self.FIT_MEMORY_S)
        for guess, x, px, spread, error, _ in rows:
            guess.score += w_score * (error * error / noise2 - guess.score)
            self._update(guess, x, px, spread, error, forget)
        self._best = min(self._guesses, key=lambda g: (g.score, -g.lag_s))

    def _quiet_s(self) -> float:
        """How long a disturbance takes to pass the probe: the longest lag of the bank."""
        return max(self.DELAYS_S) + max(self.TAUS_S)

    def _update(self, guess: _ProbeGuess, x, px, spread: float, error: float, forget: float) -> None:
        """One recursive least-squares step (an outlier's pull limited to HUBER deviations),
        then kept within physics and no more certain than the prior allows to be forgotten
        (scaled as a whole: the covariance stays positive)."""
        limit = self.HUBER * math.sqrt(spread)
        error = min(limit, max(-limit, error))
        gain = [p / spread for p in px]
        guess.theta = [min(high * prior, max(low * prior, value + g * error)) for value, g, prior, (low, high)
                       in zip(guess.theta, gain, self._prior, self.BOUNDS, strict=True)]
        (g0, g1, g2), (p0, p1, p2) = gain, px
        c00, c01, c02, c11, c12, c22 = guess.cov
        c00, c01, c02 = (c00 - g0 * p0) / forget, (c01 - g0 * p1) / forget, (c02 - g0 * p2) / forget
        c11, c12, c22 = (c11 - g1 * p1) / forget, (c12 - g1 * p2) / forget, (c22 - g2 * p2) / forget
        s0, s1, s2 = (min(1.0, math.sqrt(var / max(c, 1e-300)))
                      for var, c in zip(self._prior_var, (c00, c11, c22), strict=True))
        guess.cov = (c00 * s0 * s0, c01 * s0 * s1, c02 * s0 * s2, c11 * s1 * s1, c12 * s1 * s2, c22 * s2 * s2)

    def _fit_feet(self, rows, change_c: float) -> None:
        """While the feet take their heat, fit how much of the assumed heat they take: the
        trusted guess's misfit against its view of the feet's draw (least squares, with the
        assumption as a prior worth FEET_SPREAD)."""
        for guess, x, _, _, _, feet_change in rows:
            if guess is not self._best or self._feet_s is None:
                continue
            rate, loss, cooling = guess.theta
            unfed = change_c - (rate * (x[0] + self._feet_scale * feet_change) + loss * x[1] + cooling * x[2])
            f = -rate * feet_change
            sum_rf, sum_ff = self._feet_fit
            sum_rf, sum_ff = sum_rf + unfed * f, sum_ff + f * f
            self._feet_fit = (sum_rf, sum_ff)
            noise2, prior_w = self.FEET_NOISE_C ** 2, 1 / self.FEET_SPREAD ** 2
            self._feet_scale = min(3.0, max(0.25, (prior_w + sum_rf / noise2) / (prior_w + sum_ff / noise2)))
