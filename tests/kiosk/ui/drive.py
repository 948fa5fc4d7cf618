"""Driving the kiosk as a customer and a staff member do: real taps on the real app, against a
real controller whose simulated bath the test steps by hand.

The app learns everything through the controller's API, so a check on the screen waits for the
status it shows (`shown`) rather than for time to pass. Nothing here imports Kivy at import
time: the harness configures it (no double-tap detection, the panel's size) before it loads.
"""

from __future__ import annotations

from hardware.simbath import SIM_PINS
from kiosk.client import Client
from routines import load_library
from routines.model import FEET

SHIPPED = {entry.routine.id: entry.routine for entry in load_library(None)}
SESSION_SCREENS = ("fill", "warm", "ready", "soak", "step")
STAFF, STAFF_PIN = "anna", "2468"


# -- what the bath and the app say -------------------------------------------------------------

def heater_pin_on(k) -> bool:
    """What the heater's GPIO pin really carries (its relay board is active low)."""
    pin = SIM_PINS["heater"]
    return bool(k.service.sim.factory.pin(pin.number).state) == pin.active_high


def controller(k) -> dict:
    """The controller's own status, not the one on screen."""
    return k.service.controller.status()


def stage(status: dict | None) -> tuple | None:
    session = (status or {}).get("session")
    return (session["phase"], session["step_index"], session["foot"]) if session else None


def stages(routine) -> list[tuple[int, object, str | None]]:
    """The steps a customer walks through, one foot at a time where a step is per foot."""
    return [(i, step, foot) for i, step in enumerate(routine.steps)
            for foot in (FEET if step.per_foot else (None,))]


def shown(k, condition, what: str) -> None:
    """Wait until the status on screen satisfies `condition`."""
    k.wait_for(lambda: k.status is not None and condition(k.status), what=what)


def flush(k) -> None:
    """Wait until every request the app has sent so far was answered: requests go out on one
    connection and are answered in order, so the reply to one more proves the earlier ones."""
    replies = []
    k.app.send("status", on_reply=replies.append)
    k.wait_for(lambda: replies, what="the reply to the app's latest request")


def assert_shows(k, *texts: str) -> None:
    on_screen = k.texts()
    for text in texts:
        assert text in on_screen, f"{text!r} is not on {k.screen!r}; it shows {on_screen}"


def assert_mentions(k, part: str) -> str:
    """The first text on screen that contains `part`."""
    found = [t for t in k.texts() if part in t]
    assert found, f"nothing on {k.screen!r} mentions {part!r}; it shows {k.texts()}"
    return found[0]


def buttons(k) -> list:
    """Every BigButton on the current screen (Kivy is imported only once the harness set it up)."""
    from kiosk.ui.widgets import BigButton

    screen = k.app.manager.get_screen(k.screen)
    return [b for b in screen.walk() if isinstance(b, BigButton)]


def card(k, name: str):
    """The routine's card on the home screen."""
    assert k.screen == "home", k.screen
    found = [b for b in buttons(k) if name in b.text]
    assert len(found) == 1, f"{len(found)} cards name {name!r}: {[b.text for b in buttons(k)]}"
    return found[0]


# -- a session, screen by screen ---------------------------------------------------------------

def soak_to_steps(k) -> None:
    """Let the soak count down by stepping the bath, up to the first massage step."""
    k.run_until(lambda s: s["phase"] == "steps", what="the end of the soak")
    k.settle()
    k.wait_screen("step")


def api(k, op: str, **args):
    """A request through the controller's local API, as another client (the staff tool) sends it."""
    with Client(k.service.socket_path) as client:
        return client.request(op, **args)


def go_to(k, screen: str, routine_id: str = "classic") -> None:
    """Put a session on `screen` (one of SESSION_SCREENS) through the API, then wait until the
    app shows it. The taps that get there are tested on their own, screen by screen."""
    api(k, "start", routine=routine_id)
    if screen != "fill":
        api(k, "confirm")
    if screen in ("ready", "soak", "step"):
        k.run_until(lambda s: s["phase"] == "ready", what="the water at its target")
    if screen in ("soak", "step"):
        api(k, "confirm")
    if screen == "step":
        api(k, "next")
    k.step()
    k.settle()
    k.wait_screen(screen)


def enter_pin(k, pin: str) -> None:
    for digit in pin:
        k.tap_text(digit)
    k.tap_text("OK")


def sign_in(k, pin: str = STAFF_PIN) -> None:
    """The hidden staff entry (five taps on the top bar), then the PIN."""
    for _ in range(5):
        k.tap(k.app.bar)
    k.wait_screen("pin")
    enter_pin(k, pin)
    k.wait_screen("staff")

