"""The bath's outputs and switches through gpiozero: heater and pump relays, the safety relay,
vibration motor, buzzer, STOP button and float switch, as one object that starts with
everything off.

Wiring, and why:

- Outputs: `active_high=False` for the usual opto-isolated relay boards (IN pulled low = coil
  on). Every output is built already off. (gpiozero's lgpio pins claim an output low before
  writing the off level: for an active-low relay a pulse of tens of microseconds, far shorter
  than the ~10 ms a relay coil needs to pull in.) `close()` drives everything off, then
  releases the pins: a released pin floats, so the relay board must hold a floating input OFF.
- Inputs are contacts: `active_high=False` wires the contact from the GPIO to GND with the
  Pi's pull-up on (gpiozero Button's wiring); `active_high=True` wires it to 3V3 with the
  pull-down on. Either way an open contact or a broken wire reads inactive.
- Safety relay (optional): a second relay in series with the heater relay. The supervisor
  opens it at any latched fault, at stop and at idle, so a heater relay whose contacts have
  welded cannot keep heating. "Everything off" cuts the heater relay first, then this one.
- Float switch: mount it so the contact closes when the float rises (closed = water). A broken
  wire or an unplugged switch then reads "no water", which stops the heating; it never fakes
  water in an empty basin.
- STOP button: a push button, closed while pressed. It is a convenience stop for the
  customer, not the emergency stop: the mains switch and the thermal cut-out are that.

The STOP press is handled on gpiozero's own callback thread: it latches `stopped` and cuts
every output before anything else runs, then calls `on_stop`. While latched, nothing can be
switched on until the controller calls `clear_stop()`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from gpiozero import Buzzer, DigitalInputDevice, InputDevice, OutputDevice, PWMOutputDevice

from .devices import LABELS, OUTPUTS
from .errors import HardwareError

log = logging.getLogger(__name__)

STOP_BOUNCE_S = 0.02  # a push button settles within ~10 ms; 20 ms more is not felt
VIBRATION_HZ = 100  # gpiozero's default PWM rate; lgpio's software PWM is steady there
CLOSED = "the rig is closed and its pins released; build a new one"


@dataclass(frozen=True)
class Pin:
    """Where a device is wired: its BCM GPIO number, and whether the pin is high when the
    device is on (outputs) or its contact is closed (inputs)."""

    number: int
    active_high: bool

    def __post_init__(self) -> None:
        if not isinstance(self.number, int) or isinstance(self.number, bool) or self.number < 0:
            raise HardwareError(f"pin {self.number!r} is not a BCM GPIO number; use e.g. 17")
        if not isinstance(self.active_high, bool):
            raise HardwareError(f"active_high must be true or false, not {self.active_high!r}")


class StoppedError(HardwareError):
    """Something was to be switched on while the STOP latch holds."""


def mock_pin_factory():
    """gpiozero's MockFactory with PWM-capable pins, for tests and the simulated bath.

    Every pin is a MockPWMPin: MockFactory refuses to hand out one pin as two classes, and on
    a real Pi (lgpio) every GPIO can do software PWM, so the mock should not be stricter.
    """
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    return MockFactory(pin_class=MockPWMPin)


class Rig:
    """Every GPIO device of the bath. Only the heater is required; leave the others None.

    An absent device reads as off (`water_present` as None); switching it off is a no-op, so
    "everything off" code needs no checks, and switching it on raises HardwareError, so a
    routine that wants bubbles on a rig without a pump is noticed, not silently ignored.
    """

    def __init__(self, heater: Pin, *, safety_relay: Pin | None = None, pump: Pin | None = None,
                 vibration: Pin | None = None, buzzer: Pin | None = None,
                 stop_button: Pin | None = None, float_switch: Pin | None = None,
                 on_stop: Callable[[], object] | None = None,
                 stop_bounce_s: float = STOP_BOUNCE_S, vibration_hz: float = VIBRATION_HZ,
                 pin_factory=None):
        wiring = {"heater": heater, "safety_relay": safety_relay, "pump": pump,
                  "vibration": vibration, "buzzer": buzzer, "stop_button": stop_button,
                  "float_switch": float_switch}
        self._pins = {name: pin for name, pin in wiring.items() if pin is not None}
        for name, pin in wiring.items():
            if not isinstance(pin, Pin) and (pin is not None or name == "heater"):
                raise HardwareError(f"the {LABELS[name]} needs a Pin(number, active_high), not {pin!r}")
        _check_distinct(self._pins)
        self.on_stop = on_stop  # called on gpiozero's thread after a STOP press cut the outputs
        self._lock = threading.Lock()  # a STOP press and a switch-on never interleave
        self._stopped = False
        self._closed = False
        self._devices: dict = {}

        def relay(p: Pin) -> OutputDevice:
            return OutputDevice(p.number, active_high=p.active_high, initial_value=False,
                                pin_factory=pin_factory)

        builders = {
            "heater": relay,
            "safety_relay": relay,
            "pump": relay,
            "vibration": lambda p: PWMOutputDevice(p.number, active_high=p.active_high,
                                                   initial_value=0, frequency=vibration_hz,
                                                   pin_factory=pin_factory),
            "buzzer": lambda p: Buzzer(p.number, active_high=p.active_high, initial_value=False,
                                       pin_factory=pin_factory),
            # Plain input: the float switch is polled, its level is the answer.
            "float_switch": lambda p: InputDevice(p.number, pull_up=not p.active_high,
                                                  pin_factory=pin_factory),
            # Not gpiozero's Button: its hold thread would make close() wait while STOP is held.
            "stop_button": lambda p: DigitalInputDevice(p.number, pull_up=not p.active_high,
                                                        bounce_time=stop_bounce_s,
                                                        pin_factory=pin_factory),
        }
        try:
            for name, build in builders.items():  # outputs first: they are off before STOP can fire
                if name in self._pins:
                    self._devices[name] = _build(name, self._pins[name], build)
            if "stop_button" in self._devices:
                self._devices["stop_button"].when_activated = self._on_stop_press
                if self._devices["stop_button"].is_active:
                    self._stopped = True  # held at start-up: start latched
        except BaseException:
            for device in self._devices.values():
                device.close()
            raise

    # -- what is fitted and what is driven ---------------------------------------------------

    @property
    def pins(self) -> dict[str, Pin]:
        """The fitted devices and their wiring, by config name."""
        return dict(self._pins)

    @property
    def heater_on(self) -> bool:
        return self._is_driven("heater")

    @property
    def safety_relay_on(self) -> bool:
        """Whether the safety relay is closed (False when none is fitted)."""
        return self._is_driven("safety_relay")

    @property
    def pump_on(self) -> bool:
        return self._is_driven("pump")

    @property
    def buzzer_on(self) -> bool:
        return self._is_driven("buzzer")

    @property
    def vibration_pct(self) -> float:
        device = self._get("vibration")
        return 0.0 if device is None else round(device.value * 100.0, 6)

    @property
    def water_present(self) -> bool | None:
        """Whether the float switch says the basin holds water; None when none is fitted."""
        device = self._get("float_switch")
        return None if device is None else bool(device.is_active)

    @property
    def stop_pressed(self) -> bool:
        """Whether the STOP button is held right now (False when none is fitted)."""
        self._get("stop_button")
        return self._held()

    @property
    def stopped(self) -> bool:
        """The STOP latch: set by a press, cleared only by `clear_stop()`."""
        return self._stopped

    @property
    def closed(self) -> bool:
        return self._closed

    # -- switching ---------------------------------------------------------------------------

    def set_heater(self, on: bool) -> None:
        self._switch("heater", on)

    def set_safety_relay(self, on: bool) -> None:
        """Close (True) or open the relay in series with the heater."""
        self._switch("safety_relay", on)

    def set_pump(self, on: bool) -> None:
        self._switch("pump", on)

    def set_buzzer(self, on: bool) -> None:
        self._switch("buzzer", on)

    def set_vibration(self, pct: float) -> None:
        """Drive the vibration motor at `pct` % duty (0 is off)."""
        if isinstance(pct, bool) or not isinstance(pct, int | float) or not 0.0 <= pct <= 100.0:
            raise HardwareError(f"vibration must be 0 to 100 %, not {pct!r}")
        self._apply("vibration", pct / 100.0, on=pct > 0)

    def all_off(self) -> None:
        """Every output off. Tries them all even if one fails, then reports the failures."""
        with self._lock:
            failures = self._cut_all()
        if failures:
            raise HardwareError(_failure_message(failures))

    def clear_stop(self) -> None:
        """Release the STOP latch; outputs stay off until switched on again."""
        with self._lock:
            if self._closed:
                raise HardwareError(CLOSED)
            if self._held():
                raise HardwareError("the STOP button is still pressed; release it, then clear the stop")
            self._stopped = False

    # -- closing -----------------------------------------------------------------------------

    def close(self) -> None:
        """Drive every output off, then release every pin. Safe to call more than once."""
        with self._lock:
            if self._closed:
                return
            failures = self._cut_all()
            self._closed = True
        # Inputs first, so no STOP callback arrives half-way through.
        for name in ("stop_button", "float_switch", *OUTPUTS):
            if name in self._devices:
                self._devices[name].close()
        if failures:
            raise HardwareError(_failure_message(failures))

    def __enter__(self) -> Rig:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        fitted = ", ".join(f"{n}=GPIO{p.number}" for n, p in self._pins.items())
        return f"<Rig {fitted}{', closed' if self._closed else ''}>"

    # -- internals ---------------------------------------------------------------------------

    def _get(self, name: str):
        if self._closed:
            raise HardwareError(CLOSED)
        return self._devices.get(name)

    def _is_driven(self, name: str) -> bool:
        device = self._get(name)
        return False if device is None else bool(device.is_active)

    def _switch(self, name: str, on: bool) -> None:
        if not isinstance(on, bool):
            raise HardwareError(f"the {LABELS[name]} is switched with True or False, not {on!r}")
        self._apply(name, on, on=on)

    def _apply(self, name: str, value, *, on: bool) -> None:
        with self._lock:
            device = None if self._closed else self._devices.get(name)
            if device is None and not on:
                return  # off is always allowed: closed or not fitted, nothing is driven
            if self._closed:
                raise HardwareError(CLOSED)
            if device is None:
                raise HardwareError(f"no {LABELS[name]} is fitted; give hardware.{name}.pin in the "
                                    "config to use it")
            if on and (self._stopped or self._held()):
                self._stopped = True  # a press whose event was missed latches all the same
                raise StoppedError(f"the STOP button was pressed: the {LABELS[name]} stays off "
                                   "until the stop is cleared")
            try:
                device.value = value
            except Exception as exc:
                raise HardwareError(f"cannot drive the {LABELS[name]} (GPIO{self._pins[name].number}): "
                                    f"{_describe(exc)}; check the wiring") from exc

    def _held(self) -> bool:
        device = self._devices.get("stop_button")
        return device is not None and bool(device.is_active)

    def _cut_all(self) -> list[tuple[str, Exception]]:
        """Every output off, heater first; failures are collected, never stop the others."""
        failures = []
        for name in OUTPUTS:
            device = self._devices.get(name)
            if device is None or device.closed:
                continue
            try:
                device.off()
            except Exception as exc:
                failures.append((name, exc))
        return failures

    def _on_stop_press(self) -> None:
        # Runs on gpiozero's callback thread: it must never raise, or later presses are lost.
        with self._lock:
            self._stopped = True
            failures = self._cut_all()
        if failures:
            log.error("STOP: %s", _failure_message(failures))
        callback = self.on_stop
        if callback is not None:
            try:
                callback()
            except Exception:
                log.exception("STOP: the outputs are off, but the on_stop callback failed")


def _check_distinct(pins: dict[str, Pin]) -> None:
    seen: dict[int, str] = {}
    for name, pin in pins.items():
        if pin.number in seen:
            other = seen[pin.number]
            raise HardwareError(f"the {LABELS[name]} and the {LABELS[other]} are both on GPIO{pin.number}; "
                                f"give each device its own pin (hardware.{name}.pin)")
        seen[pin.number] = name


def _build(name: str, pin: Pin, build):
    try:
        return build(pin)
    except Exception as exc:
        raise HardwareError(f"cannot use GPIO{pin.number} for the {LABELS[name]}: {_describe(exc)}; "
                            f"check hardware.{name}.pin (BCM numbering) and that nothing else "
                            "uses that pin") from exc


def _describe(exc: Exception) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _failure_message(failures: list[tuple[str, Exception]]) -> str:
    parts = [f"the {LABELS[name]} could not be switched off ({_describe(exc)})" for name, exc in failures]
    return "; ".join(parts) + "; switch the bath off at the mains and check the wiring"
