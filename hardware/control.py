"""The heater's control law: should the heater be on, given the last reading and the target?

Pure and time-injected: `tick(now_s=..., water_c=..., target_c=...) -> bool`, called once per
reading; the adapter drives the relay and the safety supervisor can still veto it. Both laws
here share three rules:
- no valid reading (None) means off at once;
- a reading at or above the target means off at once (DESIGN.md section 3: the heater may be
  on only while the water is below the target); a law that estimates the water through the
  probe's lag may let the reading pass the target by `ABOVE_TARGET_C` while its estimate is
  below the target, as the supervisor allows;
- otherwise a mechanical relay's minimum on and off times are respected, because each
  closure under load wears the contacts (about 100,000 closures at rated load).

`BangBang` is the plain thermostat hobby brewing controllers use. `HeaterControl` predicts
the water through the probe's lag and switches in few, well-placed pulses.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from typing import Protocol

from .errors import HardwareError
from .safety import ABOVE_TARGET_C

WATER_J_PER_L_K = 4186.0
MIN_ON_S = 10.0
MIN_OFF_S = 10.0
# The open basin of DESIGN.md section 6 loses about 120 W at 38 C for 5 L, 16 C above a room.
REFERENCE_LOSS_W, REFERENCE_LITRES, REFERENCE_ABOVE_ROOM_C = 120.0, 5.0, 16.0


class Controller(Protocol):
    def tick(self, *, now_s: float, water_c: float | None, target_c: float) -> bool: ...

    def overruled(self, *, now_s: float) -> None: ...


class Relay:
    """A mechanical relay's switching rules: minimum on and off times, a minimum time between
    closures (the switching budget), and the safety cut that overrides them all.

    An interruption (`interrupt`: a bad reading, a supervisor's veto) is not the law's choice:
    for RESUME_WITHIN_S after it the relay may close again at once, and that closure resumes
    the cycle it interrupted instead of opening a new one, so a glitch never holds back a
    warm-up or a pulse for the length of the switching budget. A cut by the law's own rules
    (`set(..., cut=True)`) gives no such right: resuming at once there would chatter."""

    RESUME_WITHIN_S = 30.0  # longer than any sensor dropout that is not yet a fault (10 s)

    def __init__(self, *, min_on_s: float = MIN_ON_S, min_off_s: float = MIN_OFF_S,
                 min_cycle_s: float = 0.0):
        if min_on_s < 0 or min_off_s < 0 or min_cycle_s < 0:
            raise HardwareError("relay minimum on, off and cycle times must be at least 0 s")
        self.min_on_s, self.min_off_s, self.min_cycle_s = min_on_s, min_off_s, min_cycle_s
        self.on = False
        self.changed_s: float | None = None  # when the relay last opened or closed
        self.closed_s: float | None = None  # when the cycle now running (or the last) began
        self.cut_s: float | None = None  # when a cut interrupted it, while that may be resumed
        self.closures = 0

    def interrupted(self, now_s: float) -> bool:
        """Whether a cut opened the relay recently enough that closing it resumes the cycle."""
        return self.cut_s is not None and now_s - self.cut_s <= self.RESUME_WITHIN_S

    def can_close(self, now_s: float) -> bool:
        return self.interrupted(now_s) or (
            (self.changed_s is None or now_s - self.changed_s >= self.min_off_s)
            and (self.closed_s is None or now_s - self.closed_s >= self.min_cycle_s))

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


class _ProbeGuess:
    """One guess of how the probe sees the water: a mixing delay, then a first-order lag.

    It watches the controller's model of the water through that delay and lag, and how well
    the result matches the readings scores the guess. It also watches the element's heat flow
    the same way, so the heating rate can be fitted to the readings without differentiating
    them (see HeaterControl._fit)."""

    def __init__(self, delay_s: float, tau_s: float, start_c: float, prior: float):
        self.delay_s, self.tau_s = delay_s, tau_s
        self.probe_c = start_c
        self.heat_w = 0.0  # the element's heat flow as the probe would notice it
        self.offset_c = 0.0  # reading - probe_c, lightly smoothed: the model's correction
        self.mean_c = 0.0  # the same, slowly: a drift of the model, not this guess's fault
        self.score = prior  # weighted mean square of what the slow mean does not explain

    @property
    def lag_s(self) -> float:
        return self.delay_s + self.tau_s


class HeaterControl:
    """Model-predictive heater control for a lumped basin with a lagging probe.

    Why: in still water the probe sees a change about 70 s late and the element's sheath
    keeps heating for tens of seconds after the relay opens, so switching on the reading
    overshoots by over a degree. This law runs a model of the water, driven by the relay and
    started from the configured heater_w and litres, and learns from the readings what it
    cannot know:
    - the probe's lag: a bank of delay-and-lag guesses watches the model, and the one whose
      view matches the readings best is trusted (the knee at the start of a heating tells
      them apart); until the readings say otherwise it assumes still water, the cautious case;
    - the heating rate and the losses per degree (the basin is rarely filled to exactly the
      configured litres, and rooms differ), by recursive least squares on the readings' rise
      over 10-s blocks against the heat and the excess over the room seen through that lag.
    The estimate of the water now is the model corrected by the trusted guess's mismatch (a
    Smith predictor): no probe lag, and no steady error. A change no guess explains (feet
    going in, a fresh fill) is taken as a disturbance, and nothing is learnt from it.

    Warming runs at full power until the predicted peak of the water, counting the heat
    still in the element, reaches the target less `warm_margin_c`. Holding is done in
    pulses no closer together than the switching budget. Each pulse's length is chosen on a
    forecast: the one that keeps the water closest to the target, on average, until the next
    pulse can start, with the water's peak within `peak_cap_c` of the target and the reading
    forecast to stay below the target through the pulse and at the next start. That last
    condition is the safety rule's (heat only while the reading is below the target): with
    a lagging probe the reading still shows the last peak when the water is already low, so
    the hold settles a little below the target, how far depending on the lag.
    """

    DELAYS_S = (0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0)
    TAUS_S = (5.0, 10.0, 20.0, 30.0, 40.0)
    STILL_GUESS = (40.0, 30.0)  # assumed until the readings say otherwise: the cautious one
    PRIOR = 0.004  # C^2 against the other guesses: a few readings of a heating's knee outweigh it
    OFFSET_TAU_S = 8.0  # smoothing of the model's correction (the sensor's 1/16 C steps)
    MEAN_TAU_S = 180.0  # a guess's slow mismatch (the model's drift) is not held against it
    SCORE_TAU_S = 600.0  # how long a guess's misfits are remembered
    EXPLAINED_C = 0.3  # a reading further than this from every guess is a disturbance
    FIT_BLOCK_S = 10.0  # the rate fit's sampling: long enough for the readings to move
    FIT_MEMORY_S = 1200.0  # the rate fit forgets older blocks over this time
    FIT_SETTLE_S = 120.0  # the same guess trusted this long before the fit uses its view
    FIT_STEADY_S = 160.0  # the relay unchanged this long: every plausible lag has passed
    FIT_NOISE_C = 0.04  # the noise of a reading's difference over a block
    GUARD_C = 0.1  # the forecast reading stays this far below the target (1/16 C steps, noise)
    FORECAST_STEP_S = 2.0
    USEFUL_PULSE = 0.5  # of the pulse that replaces a cycle's losses: shorter wastes a closure
    WAIT_S = 120.0  # how much longer than the budget a planned cycle may last

    def __init__(self, *, heater_w: float = 500.0, litres: float = 5.0, min_on_s: float = MIN_ON_S,
                 min_off_s: float = MIN_OFF_S, max_closures_per_h: float = 30.0,
                 element_tau_s: float = 20.0, loss_w: float | None = None, room_c: float = 22.0,
                 warm_margin_c: float = 0.1, peak_cap_c: float = 0.25):
        if heater_w <= 0 or litres <= 0 or max_closures_per_h <= 0 or element_tau_s <= 0:
            raise HardwareError("heater control needs heater_w, litres, max_closures_per_h and "
                                "element_tau_s above 0: check the bath section of the config")
        self.heater_w = heater_w
        self.element_tau_s = element_tau_s
        self.room_c = room_c
        self.warm_margin_c, self.peak_cap_c = warm_margin_c, peak_cap_c
        self.relay = Relay(min_on_s=min_on_s, min_off_s=min_off_s, min_cycle_s=3600.0 / max_closures_per_h)
        guess_w = loss_w if loss_w is not None else REFERENCE_LOSS_W * (litres / REFERENCE_LITRES) ** (2 / 3)
        # The fitted model: dT/dt = rate * heat - cooling * (T - room), per K/J and per s.
        rate = 1 / (WATER_J_PER_L_K * litres)
        cooling = guess_w / REFERENCE_ABOVE_ROOM_C * rate
        self._prior = (rate, cooling)
        self._theta = [rate, cooling]
        self._cov = [[(0.5 * rate) ** 2, 0.0], [0.0, (0.5 * cooling) ** 2]]
        self._block: tuple[float, float, float, float] | None = None  # start s, reading, heat, excess
        self._now_s: float | None = None
        self._dt_s = 0.0  # since the previous tick
        self._model_c = 0.0  # the model's water
        self._element_w = 0.0  # the model's heat flow from the element
        self._history: deque[tuple[float, float, float]] = deque()  # (s, model C, element W)
        self._guesses: list[_ProbeGuess] = []
        self._best: _ProbeGuess | None = None
        self._trusted_since_s = self._started_s = 0.0
        self._estimate_c: float | None = None
        self._pulse_end_s: float | None = None  # when the planned pulse ends (None: warming)

    # What it knows, for the record and the benchmark.

    @property
    def estimate_c(self) -> float | None:
        """The estimated water temperature now (None before the first reading)."""
        return self._estimate_c

    @property
    def lag_s(self) -> float | None:
        """The probe's lag it currently believes (mixing delay plus time constant)."""
        return self._best.lag_s if self._best else None

    @property
    def capacity_j_per_k(self) -> float:
        """The water's heat capacity it currently believes (4186 J/K per litre)."""
        return 1 / self._theta[0]

    @property
    def loss_w_per_k(self) -> float:
        """The loss per degree of water above the room it currently believes."""
        return self._theta[1] / self._theta[0]

    # The law.

    def tick(self, *, now_s: float, water_c: float | None, target_c: float) -> bool:
        """Whether the heater should be on from now; call once per reading, None when bad."""
        self._advance(now_s)
        if water_c is None:
            self._block = None
            return self.relay.interrupt(now_s)
        self._observe(now_s, water_c)
        if water_c >= target_c + ABOVE_TARGET_C or self._estimate_c >= target_c:
            return self.relay.set(now_s, False, cut=True)
        return self.relay.set(now_s, self._decide(now_s, water_c, target_c))

    def overruled(self, *, now_s: float) -> None:
        """The supervisor kept the heater off although this law asked for it: the relay is
        open, and the model must know (it runs on what was driven, not on what was asked)."""
        self.relay.interrupt(now_s)

    def feet_in(self, *, now_s: float) -> None:
        """The customer has put their feet in (the tap that starts the soak): a known
        disturbance, announced at a known moment."""

    def _decide(self, now_s: float, water_c: float, target_c: float) -> bool:
        loss_w = max(self.loss_w_per_k * (target_c - self.room_c), 1.0)
        peak = self._estimate_c + self._coast_rise_c(loss_w)
        resuming = not self.relay.on and self.relay.interrupted(now_s)
        if self.relay.on or resuming:
            if self._pulse_end_s is None:  # warming: until the predicted peak is nearly there
                return peak < target_c - self.warm_margin_c
            if resuming:  # a cut interrupted the pulse: it keeps the length it was planned with
                self._pulse_end_s += now_s - self.relay.cut_s
            # A planned pulse; cut short only if the water turned out warmer than forecast.
            return now_s < self._pulse_end_s and peak < target_c + self.peak_cap_c
        half_band = self._half_band_c(loss_w)
        if peak > target_c - half_band or not self.relay.can_close(now_s):
            return False
        if peak < target_c - max(4 * half_band, 0.6):  # warming, or recovering from cold feet
            self._pulse_end_s = None
            return True
        on_s = self._plan_pulse_s(target_c)
        if on_s is None or on_s < self.USEFUL_PULSE * self.relay.min_cycle_s * loss_w / self.heater_w:
            return False  # better wait until the reading leaves room for a proper pulse
        self._pulse_end_s = now_s + on_s
        return True

    def _half_band_c(self, loss_w: float) -> float:
        """Half the swing a pulse every min_cycle_s leaves: the heat lost while the water is not
        being heated, from the pulse's peak to the next start."""
        cycle_s = self.relay.min_cycle_s
        on_s = cycle_s * loss_w / self.heater_w
        rising_s = on_s + self.element_tau_s * math.log(max(self.heater_w / loss_w, 1.0))
        return max(0.05, loss_w * max(cycle_s - rising_s, 0.0) * self._theta[0] / 2)

    def _coast_rise_c(self, loss_w: float) -> float:
        """How much the water still rises on the element's stored heat if the relay is open
        from now: the element's flow decays until it gives no more than the losses take."""
        q, tau = self._element_w, self.element_tau_s
        if q <= loss_w:
            return 0.0
        return tau * (q - loss_w - loss_w * math.log(q / loss_w)) * self._theta[0]

    def _plan_pulse_s(self, target_c: float) -> float | None:
        """The pulse length that keeps the forecast water closest to the target, on average,
        from now until the next pulse can start: no sooner than the switching budget allows
        and only once the forecast reading is below the target less GUARD_C. The reading must
        also stay below that through the pulse, and the water's peak within peak_cap_c.
        None when not even a minimum pulse fits."""
        cycle_s, step_s = self.relay.min_cycle_s, self.FORECAST_STEP_S
        limit_c = target_c + ABOVE_TARGET_C - self.GUARD_C
        first = math.ceil(cycle_s / step_s) - 1  # the forecast's index at the budget's next closure
        best_s, best_cost = None, math.inf
        on_s = max(self.relay.min_on_s, step_s)
        while on_s <= cycle_s:
            water, reading = self._forecast(on_s, cycle_s + self.WAIT_S)
            pulse_steps = math.ceil(on_s / step_s)
            if max(water) > target_c + self.peak_cap_c or max(reading[:pulse_steps + 1]) >= limit_c:
                break
            after = next((k for k in range(first, len(reading)) if reading[k] < limit_c), None)
            if after is not None:
                cost = sum((w - target_c) ** 2 for w in water[:after + 1]) / (after + 1)
                if cost < best_cost:
                    best_s, best_cost = on_s, cost
            on_s += step_s
        return best_s

    def _forecast(self, on_s: float, horizon_s: float) -> tuple[list[float], list[float]]:
        """The estimated water and the reading, every FORECAST_STEP_S over the horizon, if a
        pulse of on_s starts now: the model and the trusted guess, each corrected by the
        readings as now."""
        guess, step_s, tau_e = self._best, self.FORECAST_STEP_S, self.element_tau_s
        rate, cooling = self._theta
        now_s, model_c, element_w, probe_c = self._now_s, self._model_c, self._element_w, guess.probe_c
        correction_c = self._estimate_c - self._model_c
        decay_e, decay_p = math.exp(-step_s / tau_e), math.exp(-step_s / guess.tau_s)
        future: list[float] = []
        water, reading = [], []
        for k in range(1, math.ceil(horizon_s / step_s) + 1):
            power_w = self.heater_w if (k - 1) * step_s < on_s else 0.0
            element_j = power_w * step_s + (element_w - power_w) * tau_e * (1 - decay_e)
            element_w = power_w + (element_w - power_w) * decay_e
            model_c += rate * element_j - cooling * (model_c - self.room_c) * step_s
            future.append(model_c)
            seen_s = now_s + k * step_s - guess.delay_s
            if seen_s <= now_s:
                seen_c = self._model_at(seen_s)[0]
            else:
                ahead = (seen_s - now_s) / step_s  # steps ahead of now, fractional
                i = int(ahead)
                lower = future[i - 1] if i >= 1 else self._model_c
                upper = future[min(i, len(future) - 1)]
                seen_c = lower + (upper - lower) * (ahead - i)
            probe_c = seen_c + (probe_c - seen_c) * decay_p
            water.append(model_c + correction_c)
            reading.append(probe_c + guess.offset_c)
        return water, reading

    # The model, the probe guesses and the fit.

    def _advance(self, now_s: float) -> None:
        """Run the model of the water from the last tick to now with the relay as it was."""
        if self._now_s is None:
            return
        if now_s < self._now_s:
            raise HardwareError(f"time ran backwards ({self._now_s} s, then {now_s} s): "
                                "pass one monotonic clock")
        total = self._dt_s = now_s - self._now_s
        if total == 0:
            return
        power_w = self.heater_w if self.relay.on else 0.0
        rate, cooling = self._theta
        steps = math.ceil(total / 2.0)
        for _ in range(steps):
            h = total / steps
            decay = math.exp(-h / self.element_tau_s)
            element_j = power_w * h + (self._element_w - power_w) * self.element_tau_s * (1 - decay)
            self._element_w = power_w + (self._element_w - power_w) * decay
            self._model_c += rate * element_j - cooling * (self._model_c - self.room_c) * h
        self._now_s = now_s
        self._history.append((now_s, self._model_c, self._element_w))
        oldest = now_s - max(self.DELAYS_S) - 10.0
        while len(self._history) > 2 and self._history[1][0] <= oldest:
            self._history.popleft()
        for guess in self._guesses:
            seen_c, seen_w = self._model_at(now_s - guess.delay_s)
            keep = math.exp(-total / guess.tau_s)
            guess.probe_c = seen_c + (guess.probe_c - seen_c) * keep
            guess.heat_w = seen_w + (guess.heat_w - seen_w) * keep

    def _model_at(self, when_s: float) -> tuple[float, float]:
        """The model's water and element heat flow at an earlier moment (linear in between)."""
        history = self._history
        i = bisect.bisect_right(history, when_s, key=lambda entry: entry[0])
        if i == 0:
            return history[0][1:]
        if i == len(history):
            return history[-1][1:]
        (t0, c0, w0), (t1, c1, w1) = history[i - 1], history[i]
        f = (when_s - t0) / (t1 - t0)
        return c0 + (c1 - c0) * f, w0 + (w1 - w0) * f

    def _observe(self, now_s: float, water_c: float) -> None:
        """Score the guesses against a reading, then update the estimate and the fit."""
        if self._now_s is None:
            self._now_s = self._started_s = self._trusted_since_s = now_s
            self._model_c = water_c
            self._history.append((now_s, water_c, 0.0))
            self._guesses = [
                _ProbeGuess(d, t, water_c, 0.0 if (d, t) == self.STILL_GUESS else self.PRIOR)
                for d in self.DELAYS_S for t in self.TAUS_S]
        dt = self._dt_s
        w_offset = 1 - math.exp(-dt / self.OFFSET_TAU_S) if dt > 0 else 1.0
        w_mean = 1 - math.exp(-dt / self.MEAN_TAU_S)
        w_score = 1 - math.exp(-dt / self.SCORE_TAU_S)
        errors = [water_c - guess.probe_c for guess in self._guesses]
        # When no guess explains the reading (feet going in, a fresh fill), the water changed
        # for a reason the model does not know: that is no evidence about the probe's lag.
        misfit_c = min(abs(e - g.mean_c) for e, g in zip(errors, self._guesses, strict=True))
        explained = misfit_c < self.EXPLAINED_C
        for error, guess in zip(errors, self._guesses, strict=True):
            guess.offset_c += w_offset * (error - guess.offset_c)
            guess.mean_c += w_mean * (error - guess.mean_c)
            if explained:
                guess.score += w_score * ((error - guess.mean_c) ** 2 - guess.score)
        best = min(self._guesses, key=lambda g: (g.score, -g.lag_s))
        if best is not self._best:
            self._best, self._block = best, None  # a block's heat must be seen through one guess
            self._trusted_since_s = now_s
        self._estimate_c = self._model_c + best.offset_c
        self._fit(now_s, water_c)

    def _fit(self, now_s: float, water_c: float) -> None:
        """Recursive least squares, over FIT_BLOCK_S blocks, of the readings' rise against the
        heat and the excess over the room as the trusted guess sees them:
            rise = rate * heat_j - cooling * excess_c_s
        The probe's lag passes both sides alike, so no derivative of the readings is taken."""
        since_s = self._started_s if self.relay.changed_s is None else self.relay.changed_s
        steady = now_s - since_s >= self.FIT_STEADY_S
        if self._block is None or (now_s - self._trusted_since_s < self.FIT_SETTLE_S and not steady):
            # Fitting through a wrong lag would bend the rates to excuse it: wait until the
            # same guess has been trusted for a while, or until the relay has kept its state
            # so long that every plausible lag has passed and the lag no longer matters.
            self._block = (now_s, water_c, 0.0, 0.0)
            return
        start_s, start_c, heat_j, excess = self._block
        heat_j += self._best.heat_w * self._dt_s
        excess += (water_c - self.room_c) * self._dt_s
        if now_s - start_s < self.FIT_BLOCK_S:
            self._block = (start_s, start_c, heat_j, excess)
            return
        self._block = (now_s, water_c, 0.0, 0.0)
        x = (heat_j, -excess)
        forget = math.exp(-(now_s - start_s) / self.FIT_MEMORY_S)
        cov = [[c / forget for c in row] for row in self._cov]
        px = [cov[0][0] * x[0] + cov[0][1] * x[1], cov[1][0] * x[0] + cov[1][1] * x[1]]
        gain_den = self.FIT_NOISE_C ** 2 + x[0] * px[0] + x[1] * px[1]
        gain = [px[0] / gain_den, px[1] / gain_den]
        error = (water_c - start_c) - (self._theta[0] * x[0] + self._theta[1] * x[1])
        if abs(error) > 4 * math.sqrt(gain_den):
            # Far more than noise or a rate's error explains: a disturbance (feet, a fill).
            # Learn nothing from it, nor from what follows until it has passed.
            self._trusted_since_s = now_s
            return
        for i in range(2):
            self._theta[i] += gain[i] * error
            for j in range(2):
                cov[i][j] -= gain[i] * px[j]
        # Keep the fit within physics, and no less certain than the prior it started from
        # (scaled as a whole, so the covariance stays positive definite).
        scale = []
        for i, prior in enumerate(self._prior):
            self._theta[i] = min(3 * prior, max(prior / 3, self._theta[i]))
            scale.append(min(1.0, 0.5 * prior / math.sqrt(max(cov[i][i], 1e-300))))
        self._cov = [[cov[i][j] * scale[i] * scale[j] for j in range(2)] for i in range(2)]
