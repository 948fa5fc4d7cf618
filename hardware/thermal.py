"""A lumped thermal model of a foot basin: the simulated bath, the benchmarks and the tests.

Pure: time is passed in (`step(dt_s, ...)`) and randomness comes from the bath's own seeded
generator, so a run is repeatable and a 30-minute session takes milliseconds.

What is modelled, and why each part is there:
- The water is one heat capacity (4186 J/kg/K, 1 kg per litre); `water_c` is its mean
  temperature, what the feet feel on average.
- The element's heat reaches the water through a first-order lag (the sheath's own mass):
  after the relay opens it still delivers about `heater_w * element_tau_s` joules. That heat
  is a large part of every overshoot.
- Losses are split between convection, radiation and the walls (linear in water - room) and
  evaporation (proportional to the vapour-pressure difference at 50 % room humidity, so an
  over-hot basin cools faster). Together they are `loss_w_at_38` at 38 C for 5 L, scaled with
  the water's surface, taken as proportional to litres ** (2/3).
- The probe sees the water after a mixing delay (heat from the element rises and spreads
  slowly in still water; a pump removes most of it), then through its own first-order lag.
- The DS18B20 reports the probe's temperature with a little noise, quantised to 1/16 C
  (12 bits, rounded to nearest), and one read takes 0.83-0.92 s with occasional 1.8 s
  outliers.
- A check probe (a second DS18B20 on the same bus, optional on the real bath) sits in the
  same water with the same lags, its own calibration offset and its own noise. Its noise comes
  from a second generator, drawn only when it is read, so a bath read through its main probe
  alone gives the same figures whether or not a check probe could be read.
- The element is powered while the safety relay in series is closed and the heater relay is
  commanded on or welded shut.

Faults are injected with the methods under "Faults"; each says what the real bath would do.
The sensor faults act on the main probe (unless named for the check probe) and last a
simulated time, not a number of reads: a fake bus can be read many times a second, and the
safety supervisor judges a dropout by its length. A read completes when `sensor_output()` is
called, at `elapsed_s`; a timed fault hits the read under way when it begins and every read
that completes before it ends.
"""

from __future__ import annotations

import bisect
import math
import random
from collections import deque
from dataclasses import dataclass

from .errors import HardwareError
from .physics import WATER_J_PER_L_K
from .reading import SensorOutput

REFERENCE_LITRES = 5.0  # the basin the reference figures are given for
REFERENCE_LOSS_C = 38.0
ROOM_HUMIDITY = 0.5
STEP_MAX_S = 1.0  # longer steps are split so the lags stay accurate
QUANTUM_C = 1 / 16  # the DS18B20's 12-bit resolution

# Lags that depend on stirring (DESIGN.md section 6), used when BathParams leaves them None.
PROBE_TAU_STILL_S, PROBE_TAU_STIRRED_S = 30.0, 10.0
MIXING_DELAY_STILL_S, MIXING_DELAY_STIRRED_S = 40.0, 0.0
STIR_TAU_S = 20.0  # how fast the mixing follows the pump or the feet
FEET_STIR = 0.5  # feet moving in the water stir it about half as well as the pump
_UNPLUGGED, _CRC, _GLITCH_85 = "unplugged", "crc", "85"  # the timed faults, worst first


def vapour_kpa(temp_c: float) -> float:
    """Saturation vapour pressure of water (Magnus formula, good to 0.1 % over 0-60 C)."""
    return 0.61094 * math.exp(17.625 * temp_c / (temp_c + 243.04))


@dataclass(frozen=True)
class BathParams:
    """The physics of one basin. The defaults are the reference basin of DESIGN.md section 6."""

    litres: float = 5.0
    heater_w: float = 500.0
    room_c: float = 22.0
    loss_w_at_38: float = 120.0  # for 5 L; scaled with the surface, litres ** (2/3)
    evaporative_share: float = 0.5  # part of the loss at 38 C that is evaporation
    # A 300-500 W immersion element's sheath stores heat for about this long. With the still
    # lags below it gives plain bang-bang the +1.3 C overshoot and the 1.9 C band of
    # DESIGN.md section 6 (the calibration; tests/hardware/test_thermal.py checks it).
    element_tau_s: float = 20.0
    stirred: bool = False  # the pump runs from the start (set_pump() changes it)
    probe_tau_s: float | None = None  # None: 10 s stirred, 30 s still; a number pins it
    mixing_delay_s: float | None = None  # None: 0 s stirred, 40 s still; a number pins it
    probe_air_tau_s: float = 90.0  # a probe out of the water: air carries heat poorly
    noise_c: float = 0.02  # standard deviation of the sensor's noise
    offset_c: float = 0.0  # the probe's calibration error (the DS18B20 is +-0.5 C)
    check_offset_c: float = 0.0  # the check probe's calibration error
    read_period_s: float = 0.875  # a 12-bit read: 0.75 s conversion, 0.83-0.92 s in practice
    read_jitter_s: float = 0.045  # reads last read_period_s +- this, uniformly
    read_outlier_s: float = 1.8  # the occasional slow read
    read_outlier_chance: float = 0.02
    feet_drop_c: float = 2.0  # feet entering 5 L; scaled with 5 / litres
    feet_tau_s: float = 30.0  # how fast the feet take that heat
    feet_w: float = 25.0  # what the feet keep drawing (blood carries it away), a rough figure
    feet_stir_s: float = 120.0  # how long new feet keep moving and stir the water

    def __post_init__(self):
        positive = ("litres", "heater_w", "element_tau_s", "probe_air_tau_s", "read_period_s",
                    "feet_tau_s")
        for name in positive:
            if not getattr(self, name) > 0:
                raise HardwareError(f"bath parameter {name} must be above 0, got {getattr(self, name)}:"
                                    " check the bath section of the config")
        if self.loss_w_at_38 < 0 or not 0 <= self.evaporative_share <= 1:
            raise HardwareError("bath losses must be >= 0 W with an evaporative share within 0-1")
        if (self.probe_tau_s is not None and self.probe_tau_s <= 0) or (
                self.mixing_delay_s is not None and self.mixing_delay_s < 0):
            raise HardwareError("the probe lag must be above 0 s and the mixing delay at least 0 s")

    @property
    def capacity_j_per_k(self) -> float:
        return WATER_J_PER_L_K * self.litres

    def loss_w(self, water_c: float) -> float:
        """Heat leaving the water to the room at this temperature (negative below the room)."""
        scale = (self.litres / REFERENCE_LITRES) ** (2 / 3)
        linear_w = self.loss_w_at_38 * (1 - self.evaporative_share) * scale
        evaporative_w = self.loss_w_at_38 * self.evaporative_share * scale
        room_vapour = ROOM_HUMIDITY * vapour_kpa(self.room_c)
        return (linear_w * (water_c - self.room_c) / (REFERENCE_LOSS_C - self.room_c)
                + evaporative_w * (vapour_kpa(water_c) - room_vapour)
                / (vapour_kpa(REFERENCE_LOSS_C) - room_vapour))

    def lags(self, stir: float) -> tuple[float, float]:
        """(probe time constant, mixing delay) at a stirring level from 0 (still) to 1 (pump)."""
        tau = self.probe_tau_s if self.probe_tau_s is not None else (
            PROBE_TAU_STILL_S + stir * (PROBE_TAU_STIRRED_S - PROBE_TAU_STILL_S))
        delay = self.mixing_delay_s if self.mixing_delay_s is not None else (
            MIXING_DELAY_STILL_S + stir * (MIXING_DELAY_STIRRED_S - MIXING_DELAY_STILL_S))
        return tau, delay


def quantise(temp_c: float) -> float:
    """What a 12-bit DS18B20 can report: a multiple of 1/16 C."""
    return round(temp_c / QUANTUM_C) * QUANTUM_C


def _lag(value: float, target: float, dt_s: float, tau_s: float) -> float:
    """A first-order lag advanced exactly over dt_s (stable for any step)."""
    return target + (value - target) * math.exp(-dt_s / tau_s)


def _seconds(seconds: float, what: str) -> float:
    """A fault's duration, checked: a negative or NaN one is a mistake in the test or bench."""
    if not seconds >= 0:  # also refuses NaN
        raise HardwareError(f"{what} must last 0 s or more, not {seconds!r}")
    return float(seconds)


@dataclass
class _Spell:
    """A sensor fault that lasts a while: the read under way when it begins (the wire is
    disturbed mid-read), then every read that completes before `until_s`."""

    until_s: float
    next_read: bool = True

    def hits(self, now_s: float) -> bool:
        """Whether the read completing now is hit; counts that read as done."""
        hit = self.next_read or now_s < self.until_s
        self.next_read = False
        return hit

    def over(self, now_s: float) -> bool:
        return not self.next_read and now_s >= self.until_s


@dataclass(frozen=True)
class _Drift:
    """The main probe's offset moving linearly from from_c to to_c over over_s from start_s."""

    start_s: float
    from_c: float
    to_c: float
    over_s: float

    def offset_at(self, now_s: float) -> float:
        if self.over_s == 0 or now_s >= self.start_s + self.over_s:
            return self.to_c
        return self.from_c + (self.to_c - self.from_c) * (now_s - self.start_s) / self.over_s


class ThermalBath:
    """One simulated basin: true water, heating element, probe and DS18B20, with faults."""

    def __init__(self, params: BathParams | None = None, *, water_c: float = 30.0, seed: int = 0):
        self.params = params or BathParams()
        self._rng = random.Random(seed)
        # The check probe's noise: its own stream, so reading it never moves the main probe's.
        self._check_rng = random.Random(f"{seed}:check probe")
        self._elapsed_s = 0.0
        self._water_c = float(water_c)
        self._element_w = 0.0  # heat flowing from the element into the water now
        self._probe_c = float(water_c)
        self._check_probe_c = float(water_c)
        self._pump = self.params.stirred
        self._stir = 1.0 if self._pump else 0.0
        self._delay_s = self.params.lags(self._stir)[1]
        self._history: deque[tuple[float, float]] = deque([(0.0, self._water_c)])
        self._commanded = False
        self._safety_closed = True
        self._feet_in = False
        self._feet_since_s = 0.0
        self._feet_pending_j = 0.0
        self.heat_in_j = 0.0  # delivered to the water by the element since the start
        self.heat_lost_j = 0.0  # lost to the room and the feet since the start
        # Faults.
        self._probe_lifted = False
        self._spells: dict[str, _Spell] = {}  # the main sensor's timed faults: unplugged, CRC, 85 C
        self._forced_c: float | None = None
        self._drift: _Drift | None = None
        self._check_unplugged = False
        self._relay_stuck = False
        self._empty = False

    # What can be observed.

    @property
    def elapsed_s(self) -> float:
        return self._elapsed_s

    @property
    def water_c(self) -> float:
        """The true mean water temperature (while the basin is empty: the drained water's last)."""
        return self._water_c

    @property
    def probe_c(self) -> float:
        """What the probe's tip is at, before the sensor's noise and quantisation."""
        return self._probe_c

    @property
    def check_probe_c(self) -> float:
        """What the check probe's tip is at, before its sensor's noise and quantisation."""
        return self._check_probe_c

    @property
    def offset_c(self) -> float:
        """The main probe's calibration error now (it moves while the probe drifts)."""
        if self._drift is None:
            return self.params.offset_c
        return self._drift.offset_at(self._elapsed_s)

    @property
    def element_w(self) -> float:
        """Heat flowing from the element into the water now."""
        return self._element_w

    @property
    def heater_effective(self) -> bool:
        """Whether the element is powered: the safety relay closed, and the heater relay
        commanded on or stuck."""
        return self._safety_closed and (self._commanded or self._relay_stuck)

    @property
    def water_present(self) -> bool:
        """What a float switch would say."""
        return not self._empty

    @property
    def pump_on(self) -> bool:
        """Whether the bubble pump runs (it stirs the water)."""
        return self._pump

    @property
    def has_feet(self) -> bool:
        """Whether the customer's feet are in the water."""
        return self._feet_in

    def sensor_output(self) -> SensorOutput:
        """What the main DS18B20 says in the read completing now: the probe quantised to 1/16 C
        with noise, or the fault."""
        now = self._elapsed_s
        # Every timed fault sees every read, so one hidden behind another still ends on time.
        hit = {name for name, spell in self._spells.items() if spell.hits(now)}
        self._spells = {name: spell for name, spell in self._spells.items() if not spell.over(now)}
        if _UNPLUGGED in hit:
            return SensorOutput(present=False)
        if _CRC in hit:
            return SensorOutput(crc_ok=False)
        if _GLITCH_85 in hit:
            return SensorOutput(raw_c=85.0)
        if self._forced_c is not None:
            return SensorOutput(raw_c=self._forced_c)
        noisy = self._probe_c + self.offset_c + self._rng.gauss(0.0, self.params.noise_c)
        return SensorOutput(raw_c=quantise(noisy))

    def check_sensor_output(self) -> SensorOutput:
        """What the check probe's DS18B20 says in the read completing now."""
        if self._check_unplugged:
            return SensorOutput(present=False)
        noisy = (self._check_probe_c + self.params.check_offset_c
                 + self._check_rng.gauss(0.0, self.params.noise_c))
        return SensorOutput(raw_c=quantise(noisy))

    def read_duration_s(self) -> float:
        """How long the next read takes (draws from the bath's generator)."""
        p = self.params
        if self._rng.random() < p.read_outlier_chance:
            return p.read_outlier_s
        return p.read_period_s + self._rng.uniform(-p.read_jitter_s, p.read_jitter_s)

    # Physics.

    def step(self, dt_s: float, *, heater_on: bool, safety_closed: bool = True) -> None:
        """Advance dt_s seconds with the heater relay commanded as given and the safety relay
        in series closed or open (a bath without one: always closed)."""
        if dt_s < 0:
            raise HardwareError(f"time cannot run backwards (step of {dt_s} s)")
        self._commanded = bool(heater_on)
        self._safety_closed = bool(safety_closed)
        if dt_s == 0:
            return
        steps = max(1, math.ceil(dt_s / STEP_MAX_S))
        for _ in range(steps):
            self._advance(dt_s / steps)

    def _advance(self, h: float) -> None:
        p = self.params
        # The element: exact integral of a first-order lag toward its power (none when dry).
        power_w = p.heater_w if self.heater_effective and not self._empty else 0.0
        decay = math.exp(-h / p.element_tau_s)
        element_j = power_w * h + (self._element_w - power_w) * p.element_tau_s * (1 - decay)
        self._element_w = power_w + (self._element_w - power_w) * decay
        if not self._empty:
            lost_j = p.loss_w(self._water_c) * h
            if self._feet_in:
                feet_j = self._feet_pending_j * (1 - math.exp(-h / p.feet_tau_s))
                self._feet_pending_j -= feet_j
                lost_j += feet_j + p.feet_w * h
            self._water_c += (element_j - lost_j) / p.capacity_j_per_k
            self.heat_in_j += element_j
            self.heat_lost_j += lost_j
        self._elapsed_s += h
        now = self._elapsed_s
        self._history.append((now, self._water_c))

        # Mixing: follows the pump and the feet; the delay may shrink at once but grows no
        # faster than time passes, so the probe never sees older water than it already saw.
        feet_stirring = self._feet_in and now - self._feet_since_s < p.feet_stir_s
        wanted = 1.0 if self._pump else FEET_STIR if feet_stirring else 0.0
        self._stir = _lag(self._stir, wanted, h, STIR_TAU_S)
        tau_s, delay_s = p.lags(self._stir)
        self._delay_s = min(delay_s, self._delay_s + 0.9 * h)
        while len(self._history) > 2 and self._history[1][0] <= now - self._delay_s - STEP_MAX_S:
            self._history.popleft()

        seen_c = p.room_c if self._empty else self._water_at(now - self._delay_s)
        in_air = self._empty or self._probe_lifted
        self._probe_c = _lag(self._probe_c, p.room_c if in_air else seen_c, h,
                             p.probe_air_tau_s if in_air else tau_s)
        self._check_probe_c = _lag(self._check_probe_c, seen_c, h,
                                   p.probe_air_tau_s if self._empty else tau_s)

    def _water_at(self, when_s: float) -> float:
        """The water temperature at an earlier moment (linear between recorded steps)."""
        history = self._history
        i = bisect.bisect_right(history, when_s, key=lambda entry: entry[0])
        if i == 0:
            return history[0][1]
        if i == len(history):
            return history[-1][1]
        (t0, v0), (t1, v1) = history[i - 1], history[i]
        return v0 + (v1 - v0) * (when_s - t0) / (t1 - t0)

    # The customer and the pump.

    def feet_in(self) -> None:
        """Feet enter: they take about 2 C from 5 L over half a minute, then keep drawing a
        little heat; moving them stirs the water for a while."""
        if not self._feet_in:
            self._feet_in = True
            self._feet_since_s = self._elapsed_s
            self._feet_pending_j = self.params.feet_drop_c * WATER_J_PER_L_K * REFERENCE_LITRES

    put_feet_in = feet_in  # the same, under the name bench/faults.py uses

    def feet_out(self) -> None:
        self._feet_in = False
        self._feet_pending_j = 0.0

    def set_pump(self, on: bool) -> None:
        """The bubble pump stirs the water: the probe sees changes sooner and faster."""
        self._pump = bool(on)

    # Faults.

    def lift_probe(self) -> None:
        """The probe is out of the water (pulled out, or hung over the rim): it drifts toward
        room air with its own slow lag, while the element keeps heating the water."""
        self._probe_lifted = True

    def lower_probe(self) -> None:
        """The probe is back in the water."""
        self._probe_lifted = False

    def unplug_sensor(self, seconds: float | None = None) -> None:
        """The probe is unplugged: the sensor is absent from the bus until plug_sensor(), or
        for `seconds` (a loose plug): a dropout the supervisor judges by its length."""
        until_s = math.inf if seconds is None else self._elapsed_s + _seconds(seconds, "an unplugging")
        self._spells[_UNPLUGGED] = _Spell(until_s)

    def plug_sensor(self) -> None:
        self._spells.pop(_UNPLUGGED, None)

    def crc_burst(self, seconds: float) -> None:
        """Interference for `seconds` (a long cable, a missing pull-up, a motor starting): the
        read under way and every read completing within that time fail their CRC."""
        self._spells[_CRC] = _Spell(self._elapsed_s + _seconds(seconds, "a CRC burst"))

    def glitch_85(self, seconds: float = 0.0) -> None:
        """The next read, or every read completing within the next `seconds`, says 85.000 C,
        the DS18B20's power-on value (a brown-out, or a supply that keeps sagging)."""
        self._spells[_GLITCH_85] = _Spell(self._elapsed_s + _seconds(seconds, "an 85 C glitch"))

    def force_reading(self, temp_c: float | None) -> None:
        """The sensor reports exactly `temp_c` (to 1/16 C, no noise) whatever the water does,
        until called with None: a test drives the readings this way (a ramp the real water could
        never follow, say) while the rest of the bath runs on."""
        if temp_c is not None and not math.isfinite(temp_c):
            raise HardwareError(f"a forced reading must be a temperature, not {temp_c!r}")
        self._forced_c = None if temp_c is None else quantise(float(temp_c))

    def freeze_reading(self) -> None:
        """The sensor keeps reporting the value it would report now, whatever the water does
        (a stuck driver or a cached file): a valid-looking reading that never changes."""
        self.force_reading(self._probe_c + self.offset_c)

    def unfreeze_reading(self) -> None:
        self.force_reading(None)

    def drift_probe(self, offset_c: float, over_s: float) -> None:
        """The main probe goes bad: its reading drifts linearly from its offset now to
        `offset_c` over `over_s` seconds, then stays there (what the check probe is for)."""
        if not math.isfinite(offset_c):
            raise HardwareError(f"a probe's offset must be a number of degrees, not {offset_c!r}")
        self._drift = _Drift(self._elapsed_s, self.offset_c, float(offset_c),
                             _seconds(over_s, "a drift"))

    def unplug_check_sensor(self) -> None:
        """The check probe is unplugged: absent from the bus until plug_check_sensor()."""
        self._check_unplugged = True

    def plug_check_sensor(self) -> None:
        self._check_unplugged = False

    def stick_relay(self) -> None:
        """The heater relay's contacts weld: the element is powered whatever the command."""
        self._relay_stuck = True

    def release_relay(self) -> None:
        self._relay_stuck = False

    def empty_basin(self) -> None:
        """The water is gone (drained, or never filled): the float switch says so, the probe
        reads the basin's air, and a powered element heats nothing but itself."""
        self._empty = True
        self._element_w = 0.0
        self._feet_in = False
        self._feet_pending_j = 0.0

    def fill(self, water_c: float) -> None:
        """Fresh, well-mixed water at water_c fills the basin (e.g. an over-hot 43 C fill). The
        probe, if in the water, then follows it through its lag."""
        self._empty = False
        self._water_c = float(water_c)
        self._history = deque([(self._elapsed_s, self._water_c)])
        self._feet_in = False
        self._feet_pending_j = 0.0
