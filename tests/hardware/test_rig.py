"""The rig on gpiozero's own mock pins: real gpiozero devices, pins driven as a switch would."""

import logging
import math
import threading
from typing import ClassVar

import pytest
from gpiozero import OutputDevice
from gpiozero.pins.mock import MockFactory, MockPWMPin
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.errors import HardwareError
from hardware.rig import STOP_BOUNCE_S, VIBRATION_HZ, Pin, Rig, StoppedError, mock_pin_factory

HEATER = Pin(17, active_high=False)  # the common relay boards are active-low
SAFETY = Pin(5, active_high=False)  # the relay in series with the heater
PUMP = Pin(27, active_high=False)
VIBRATION = Pin(18, active_high=True)
BUZZER = Pin(22, active_high=True)
STOP = Pin(23, active_high=False)  # push button to GND, pull-up
FLOAT = Pin(24, active_high=False)  # float contact to GND, pull-up, closed = water
FULL = {"safety_relay": SAFETY, "pump": PUMP, "vibration": VIBRATION, "buzzer": BUZZER,
        "stop_button": STOP, "float_switch": FLOAT}


@pytest.fixture
def factory():
    factory = mock_pin_factory()
    yield factory
    factory.reset()


@pytest.fixture
def make(factory):
    """Build rigs on the test's factory; every one is closed afterwards."""
    rigs = []

    def make(heater=HEATER, **wiring):
        rig = Rig(heater, pin_factory=factory, **wiring)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.close()


def level(factory, pin: Pin):
    """The electrical level of a pin: 1/True is high, 0/False is low, PWM in between."""
    return factory.pin(pin.number).state


def switch_all_on(rig):
    rig.set_heater(True)
    rig.set_safety_relay(True)
    rig.set_pump(True)
    rig.set_vibration(60)
    rig.set_buzzer(True)


def assert_all_off(rig, factory):
    assert (rig.heater_on, rig.safety_relay_on, rig.pump_on, rig.vibration_pct, rig.buzzer_on) == (
        False, False, False, 0.0, False)
    assert level(factory, HEATER) == 1  # active-low: off is high
    assert level(factory, SAFETY) == 1
    assert level(factory, PUMP) == 1
    assert level(factory, VIBRATION) == 0
    assert level(factory, BUZZER) == 0


# -- outputs -------------------------------------------------------------------------------

def test_every_output_starts_off_at_its_off_level(make, factory):
    rig = make(**FULL)
    assert_all_off(rig, factory)
    assert factory.pin(VIBRATION.number).frequency == VIBRATION_HZ
    assert rig.pins == {"heater": HEATER, **FULL}


@pytest.mark.parametrize("active_high", [False, True])
@pytest.mark.parametrize("name", ["heater", "safety_relay", "pump", "buzzer"])
def test_a_relay_or_buzzer_drives_its_pin_by_polarity(make, factory, name, active_high):
    pin = Pin(5, active_high)
    rig = make(**{name: pin}) if name != "heater" else make(heater=pin)
    setter, readback = getattr(rig, f"set_{name}"), lambda: getattr(rig, f"{name}_on")
    assert level(factory, pin) == (not active_high)
    setter(True)
    assert readback() is True
    assert level(factory, pin) == active_high
    setter(False)
    assert readback() is False
    assert level(factory, pin) == (not active_high)


@pytest.mark.parametrize(("active_high", "duty"), [(True, 0.375), (False, 0.625)])
def test_vibration_is_pwm_duty(make, factory, active_high, duty):
    pin = Pin(18, active_high)
    rig = make(vibration=pin)
    rig.set_vibration(37.5)
    assert rig.vibration_pct == 37.5
    assert level(factory, pin) == pytest.approx(duty)
    rig.set_vibration(0)
    assert rig.vibration_pct == 0.0
    assert level(factory, pin) == (0 if active_high else 1)


def test_vibration_reads_back_what_was_set(make, factory):
    rig = make(vibration=VIBRATION)

    @settings(max_examples=200, deadline=None)
    @given(st.floats(min_value=0.0, max_value=100.0))
    def check(pct):
        rig.set_vibration(pct)
        assert rig.vibration_pct == pytest.approx(pct, abs=1e-6)
        assert level(factory, VIBRATION) == pytest.approx(pct / 100.0)

    check()


@pytest.mark.parametrize("pct", [-1, 100.5, math.nan, math.inf, True, "50", None])
def test_a_vibration_outside_0_to_100_is_refused_and_changes_nothing(make, pct):
    rig = make(vibration=VIBRATION)
    rig.set_vibration(20)
    with pytest.raises(HardwareError, match="0 to 100 %"):
        rig.set_vibration(pct)
    assert rig.vibration_pct == 20.0


@pytest.mark.parametrize("value", [1, 0, "on", None])
def test_outputs_are_switched_with_booleans_only(make, value):
    rig = make()
    with pytest.raises(HardwareError, match="heater relay is switched with True or False"):
        rig.set_heater(value)
    assert rig.heater_on is False


def test_all_off_switches_every_output_off(make, factory):
    rig = make(**FULL)
    switch_all_on(rig)
    assert level(factory, HEATER) == 0
    rig.all_off()
    assert_all_off(rig, factory)
    rig.all_off()  # again: nothing changes, nothing fails
    assert_all_off(rig, factory)


class LoggedPin(MockPWMPin):
    """A pin that notes every level written to it, in one log shared by all such pins."""

    log: ClassVar[list] = []

    def _set_state(self, value):
        super()._set_state(value)
        LoggedPin.log.append((self._number, value))


@pytest.mark.parametrize("cut", ["all_off", "stop", "close"])
def test_the_heater_is_cut_before_the_safety_relay_in_series_with_it(make, factory, cut):
    """Opening the heater relay first spares the safety relay's contacts the load (and a welded
    heater relay still leaves the safety relay to open the circuit)."""
    for pin in (HEATER, SAFETY):
        factory.pin(pin.number, pin_class=LoggedPin)
    rig = make(**FULL)
    switch_all_on(rig)
    LoggedPin.log.clear()
    {"all_off": rig.all_off, "stop": factory.pin(STOP.number).drive_low, "close": rig.close}[cut]()
    assert LoggedPin.log[:2] == [(HEATER.number, 1), (SAFETY.number, 1)]  # active-low: off is high


# -- closing -------------------------------------------------------------------------------

def test_close_drives_the_heater_off_before_releasing_the_pin():
    # Plain mock pins keep their last level when released, so the level shows what close() did.
    factory = MockFactory()
    try:
        rig = Rig(HEATER, pin_factory=factory)
        rig.set_heater(True)
        assert level(factory, HEATER) == 0
        rig.close()
        pin = factory.pin(HEATER.number)
        assert pin.function == "input"  # released
        assert pin.state == 1  # and left at the off level
    finally:
        factory.reset()


def test_close_twice_and_the_pins_are_free_again(make, factory):
    rig = make(**FULL)
    switch_all_on(rig)
    rig.close()
    rig.close()
    assert rig.closed
    again = make(**FULL)  # every pin was released: the same wiring can be claimed again
    assert_all_off(again, factory)


def test_the_rig_is_a_context_manager(factory):
    with Rig(HEATER, pump=PUMP, pin_factory=factory) as rig:
        rig.set_heater(True)
        rig.set_pump(True)
    assert rig.closed
    OutputDevice(HEATER.number, pin_factory=factory).close()  # released


def test_a_closed_rig_refuses_to_switch_on_but_off_is_harmless(make):
    rig = make(stop_button=STOP)
    rig.close()
    rig.set_heater(False)
    rig.all_off()
    with pytest.raises(HardwareError, match="closed"):
        rig.set_heater(True)
    with pytest.raises(HardwareError, match="closed"):
        _ = rig.heater_on
    with pytest.raises(HardwareError, match="closed"):
        rig.clear_stop()


# -- float switch --------------------------------------------------------------------------

def test_float_switch_to_gnd_reads_water_when_closed(make, factory):
    rig = make(float_switch=FLOAT)
    pin = factory.pin(FLOAT.number)
    assert pin.pull == "up"
    assert rig.water_present is False  # open contact (or a broken wire): no water
    pin.drive_low()  # the float rises and closes the contact
    assert rig.water_present is True
    pin.drive_high()
    assert rig.water_present is False


def test_float_switch_to_3v3_reads_water_when_closed(make, factory):
    wired_high = Pin(24, active_high=True)
    rig = make(float_switch=wired_high)
    pin = factory.pin(wired_high.number)
    assert pin.pull == "down"
    assert rig.water_present is False
    pin.drive_high()
    assert rig.water_present is True
    pin.drive_low()
    assert rig.water_present is False


# -- STOP ----------------------------------------------------------------------------------

def test_stop_cuts_every_output_before_on_stop_runs_and_latches(make, factory):
    seen = []

    def on_stop():
        seen.append({pin: level(factory, pin) for pin in (HEATER, SAFETY, PUMP, VIBRATION, BUZZER)}
                    | {"stopped": rig.stopped})

    rig = make(**FULL, on_stop=on_stop)
    switch_all_on(rig)
    assert not rig.stopped
    factory.pin(STOP.number).drive_low()  # pressed
    assert seen == [{HEATER: 1, SAFETY: 1, PUMP: 1, VIBRATION: 0, BUZZER: 0, "stopped": True}]
    assert rig.stop_pressed
    assert_all_off(rig, factory)

    factory.pin(STOP.number).drive_high()  # released: still latched
    assert not rig.stop_pressed
    for switch_on in (lambda: rig.set_heater(True), lambda: rig.set_safety_relay(True),
                      lambda: rig.set_pump(True), lambda: rig.set_vibration(10),
                      lambda: rig.set_buzzer(True)):
        with pytest.raises(StoppedError, match="STOP button was pressed"):
            switch_on()
    rig.set_heater(False)  # off is always allowed
    rig.set_safety_relay(False)
    assert_all_off(rig, factory)

    rig.clear_stop()
    rig.set_heater(True)
    assert level(factory, HEATER) == 0
    factory.pin(STOP.number).drive_low()  # a second press is handled like the first
    assert len(seen) == 2
    assert level(factory, HEATER) == 1


def test_stop_cannot_be_cleared_while_the_button_is_held(make, factory):
    rig = make(stop_button=STOP)
    factory.pin(STOP.number).drive_low()
    with pytest.raises(HardwareError, match="still pressed"):
        rig.clear_stop()
    assert rig.stopped
    factory.pin(STOP.number).drive_high()
    rig.clear_stop()
    assert not rig.stopped


def test_stop_without_a_callback_still_cuts_and_latches(make, factory):
    rig = make(**FULL)
    switch_all_on(rig)
    factory.pin(STOP.number).drive_low()
    assert rig.stopped
    assert_all_off(rig, factory)


def test_a_failing_on_stop_is_logged_and_later_presses_still_work(make, factory, caplog):
    calls = []

    def on_stop():
        calls.append(1)
        raise RuntimeError("controller gone")

    rig = make(**FULL, on_stop=on_stop)
    switch_all_on(rig)
    button = factory.pin(STOP.number)
    with caplog.at_level(logging.ERROR, logger="hardware.rig"):
        button.drive_low()  # the error does not reach gpiozero's thread
    assert "on_stop callback failed" in caplog.text
    assert_all_off(rig, factory)
    button.drive_high()
    rig.clear_stop()
    rig.set_heater(True)
    button.drive_low()
    assert len(calls) == 2
    assert level(factory, HEATER) == 1


def test_stop_pressed_on_another_thread_cuts_there(make, factory):
    """On a Pi the press arrives on the GPIO library's thread, not the controller's."""
    threads = []
    rig = make(**FULL, on_stop=lambda: threads.append(threading.get_ident()))
    switch_all_on(rig)
    presser = threading.Thread(target=factory.pin(STOP.number).drive_low)
    presser.start()
    presser.join(timeout=10)
    assert not presser.is_alive()
    assert threads == [presser.ident]
    assert rig.stopped
    assert_all_off(rig, factory)


class ClosedContactPin(MockPWMPin):
    """A contact closed to GND at power-up: it holds the pin low whatever the pull-up says."""

    def _set_pull(self, value):
        super()._set_pull(value)
        self.drive_low()


def test_stop_held_at_start_up_starts_latched(make, factory):
    factory.pin(STOP.number, pin_class=ClosedContactPin)
    rig = make(stop_button=STOP)
    assert rig.stop_pressed
    assert rig.stopped
    with pytest.raises(StoppedError):
        rig.set_heater(True)
    assert level(factory, HEATER) == 1


@pytest.mark.parametrize("bounce_s", [None, 0.05])
def test_the_stop_button_is_debounced(make, factory, bounce_s):
    if bounce_s is None:
        make(stop_button=STOP)
    else:
        make(stop_button=STOP, stop_bounce_s=bounce_s)
    assert factory.pin(STOP.number).bounce == (STOP_BOUNCE_S if bounce_s is None else bounce_s)


# -- devices left out ----------------------------------------------------------------------

def test_devices_left_out_are_absent_read_as_off_and_refuse_to_switch_on(make, factory):
    rig = make()
    assert rig.pins == {"heater": HEATER}
    assert (rig.safety_relay_on, rig.pump_on, rig.buzzer_on, rig.vibration_pct) == (False, False, False, 0.0)
    assert rig.water_present is None
    assert rig.stop_pressed is False
    assert rig.stopped is False
    rig.set_safety_relay(False)
    rig.set_pump(False)
    rig.set_buzzer(False)
    rig.set_vibration(0)
    for switch_on, key in ((lambda: rig.set_safety_relay(True), "safety_relay"),
                           (lambda: rig.set_pump(True), "pump"), (lambda: rig.set_buzzer(True), "buzzer"),
                           (lambda: rig.set_vibration(10), "vibration")):
        with pytest.raises(HardwareError, match=rf"no .* is fitted; give hardware\.{key}\.pin"):
            switch_on()
    for pin in FULL.values():  # no pin was claimed for a device that is not there
        OutputDevice(pin.number, pin_factory=factory).close()


# -- wiring mistakes -----------------------------------------------------------------------

def test_a_pin_used_twice_is_refused_before_anything_is_claimed(make, factory):
    with pytest.raises(HardwareError, match="bubble pump relay and the heater relay are both on GPIO17"):
        make(pump=Pin(17, active_high=False))
    OutputDevice(17, pin_factory=factory).close()


def test_a_pin_taken_by_another_device_names_the_device_and_frees_the_rest(make, factory):
    other = OutputDevice(PUMP.number, pin_factory=factory)
    try:
        with pytest.raises(HardwareError, match=r"GPIO27 for the bubble pump relay: GPIOPinInUse") as failed:
            make(pump=PUMP)
    finally:
        other.close()
    # The heater, built first, was closed, not merely left to the garbage collector: the error
    # (kept in `failed`) still refers to the half-built rig.
    assert failed.value.__cause__ is not None
    OutputDevice(HEATER.number, pin_factory=factory).close()


def test_a_pin_the_factory_does_not_have_is_refused(make):
    with pytest.raises(HardwareError, match=r"GPIO99 for the buzzer: PinInvalidPin.*hardware\.buzzer\.pin"):
        make(buzzer=Pin(99, active_high=True))


def test_vibration_needs_pwm_pins():
    factory = MockFactory()  # plain mock pins cannot do PWM: why mock_pin_factory exists
    try:
        with pytest.raises(HardwareError, match="GPIO18 for the vibration motor: PinPWMUnsupported"):
            Rig(HEATER, vibration=VIBRATION, pin_factory=factory)
    finally:
        factory.reset()


@pytest.mark.parametrize(("number", "active_high"), [(True, False), ("17", False), (-1, False), (17, 0)])
def test_a_pin_is_a_gpio_number_and_a_polarity(number, active_high):
    with pytest.raises(HardwareError):
        Pin(number, active_high)


@pytest.mark.parametrize("wiring", [{"heater": None}, {"heater": HEATER, "pump": (27, False)}])
def test_devices_are_given_as_pins(factory, wiring):
    with pytest.raises(HardwareError, match="needs a Pin"):
        Rig(pin_factory=factory, **wiring)


# -- a pin that stops answering ------------------------------------------------------------

class FailingPin(MockPWMPin):
    """A pin whose writes fail, as lgpio reports a pin taken away underneath it."""

    failing = False

    def _set_state(self, value):
        if self.failing:
            raise OSError("GPIO busy")
        super()._set_state(value)


def test_a_failing_output_does_not_stop_the_others_being_cut(make, factory, caplog):
    heater_pin = factory.pin(HEATER.number, pin_class=FailingPin)
    rig = make(**FULL)
    switch_all_on(rig)
    heater_pin.failing = True
    with pytest.raises(HardwareError, match=r"heater relay could not be switched off.*OSError: GPIO busy"):
        rig.all_off()
    assert (rig.safety_relay_on, rig.pump_on, rig.vibration_pct, rig.buzzer_on) == (False, False, 0.0, False)
    with pytest.raises(HardwareError, match=r"cannot drive the heater relay \(GPIO17\): OSError"):
        rig.set_heater(False)

    rig.set_pump(True)
    with caplog.at_level(logging.ERROR, logger="hardware.rig"):
        factory.pin(STOP.number).drive_low()
    assert "heater relay could not be switched off" in caplog.text
    assert rig.pump_on is False and rig.stopped

    with pytest.raises(HardwareError, match="heater relay could not be switched off"):
        rig.close()
    assert rig.closed
    heater_pin.failing = False
    OutputDevice(PUMP.number, pin_factory=factory).close()  # the others were released all the same
