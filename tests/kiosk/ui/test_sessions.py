"""Issue 5 section 4: a customer taps through every shipped routine, off-screen, against a real
controller on the simulated bath with time compressed (the bath is stepped by hand, about
0.9 s of bath time per step): home, the health question, fill, warm, ready, soak, every step,
done. And a "yes" to the health question brings the gentle profile, and the screens say so.
"""

from __future__ import annotations

import pytest

from kiosk.ui import words as w
from routines.model import GENTLE_SOAK_MAX_S, GENTLE_TARGET_C
from tests.kiosk.ui.drive import (
    SHIPPED,
    assert_mentions,
    assert_shows,
    card,
    controller,
    flush,
    heater_pin_on,
    shown,
    soak_to_steps,
    stage,
    stages,
)

# One routine lets every countdown run out by itself and warms the water from cold; the others
# are tapped through with Next and start from a basin filled a little warmer.
RUNS_BY_ITSELF = "classic"


def check_home(k) -> None:
    assert_shows(k, "Choose your foot bath", w.home_state(controller(k)))
    for routine in SHIPPED.values():
        text = card(k, routine.name).text
        assert w.length_words(routine.length_s) in text and w.temperature(routine.soak.target_c) in text


def check_warming(k, routine) -> None:
    """The warm screen follows the water up: target, live temperature, the graph so far."""
    assert_shows(k, "Warming the water", f"Target {w.temperature(routine.soak.target_c)}")
    k.step(3)
    assert heater_pin_on(k)
    start_c = controller(k)["water_c"]
    k.run_until(lambda s: s["water_c"] > start_c + 1.0, max_steps=400, what="the water 1 C warmer")
    k.settle()
    assert k.screen == "warm" and k.status["water_c"] > start_c + 1.0
    assert_shows(k, w.temperature(k.status["water_c"]), w.warming_words(k.status))
    assert k.app.graph, "no temperature graph of the session so far"


def check_step(k, routine, index: int, step, foot: str | None, after: list) -> None:
    """The step screen names the step, the foot and what comes next, in the routine's order."""
    session = k.status["session"]
    assert_shows(k, step.title, step.say, w.step_counter(session))
    assert session["step_count"] == len(routine.steps)
    if foot:
        assert_shows(k, w.foot_words(foot))
    else:
        assert not any(t in k.texts() for t in (w.foot_words("left"), w.foot_words("right")))
    if not after:
        assert_shows(k, w.next_words(None))
    else:  # the next step's title, or this one's again for the other foot
        told = w.next_words(after[0][1].title)
        assert any(t.startswith(told) for t in k.texts()), f"{told!r} is not on screen: {k.texts()}"
    assert k.button("Pause").enabled == (not step.wait_for_tap)


def let_it_run(k, step, here: tuple) -> None:
    """A timed or paced step counts down by itself, shown as it goes."""
    session = k.status["session"]
    if step.reps:
        assert_shows(k, w.rep_words(session))
        assert session["rep"] == 1
        last = k.run_until(lambda s: s["session"]["rep"] == s["session"]["reps"], what="the last rep")
        k.settle()
        assert_shows(k, w.rep_words(last["session"]))
    else:
        assert_shows(k, w.minutes(session["remaining_s"]))
        k.run_until(lambda s: s["session"]["remaining_s"] <= step.foot_s / 2, what="half the step")
        k.settle()
        assert_shows(k, w.minutes(k.status["session"]["remaining_s"]))
    k.run_until(lambda s: stage(s) != here, what="the end of the step")


@pytest.mark.parametrize("routine_id", sorted(SHIPPED))
def test_a_customer_taps_through_a_shipped_routine_from_home_to_done(open_kiosk, routine_id):
    routine = SHIPPED[routine_id]
    k = open_kiosk(water_c=30.0 if routine_id == RUNS_BY_ITSELF else 34.0)
    check_home(k)

    k.tap(card(k, routine.name))
    k.wait_screen("health")
    assert_mentions(k, "diabetes, reduced feeling in your feet, circulation problems, or pregnancy")
    k.tap_text("No, none apply")
    k.wait_screen("fill")
    status = controller(k)
    assert (status["phase"], status["routine"], status["profile"]) == ("fill", routine_id, "standard")
    assert_mentions(k, "Fill the basin with warm water")
    assert not heater_pin_on(k), "the heater came on before the basin was filled"

    k.tap_text("Continue")
    k.wait_screen("warm")
    check_warming(k, routine)

    k.run_until(lambda s: s["phase"] == "ready", what="the water at its target")
    k.settle()
    k.wait_screen("ready")
    assert_shows(k, w.ready_words(k.status))
    assert abs(k.status["water_c"] - routine.soak.target_c) <= 0.5

    k.tap_text("Start")
    k.wait_screen("soak")
    shown(k, lambda s: s["phase"] == "soaking", "the soak")
    assert k.status["session"]["remaining_s"] == routine.soak.duration_s
    assert_shows(k, "Soak and relax", w.minutes(routine.soak.duration_s))
    k.run_until(lambda s: s["session"]["remaining_s"] <= routine.soak.duration_s / 2, what="half the soak")
    k.settle()
    assert_shows(k, w.minutes(k.status["session"]["remaining_s"]))
    soak_to_steps(k)

    walk = stages(routine)
    for n, (index, step, foot) in enumerate(walk):
        here = ("steps", index, foot)
        shown(k, lambda s, here=here: stage(s) == here, f"step {index} ({foot})")
        assert k.screen == "step"
        check_step(k, routine, index, step, foot, walk[n + 1:])
        if step.wait_for_tap or routine_id != RUNS_BY_ITSELF:
            k.tap_text("Next")
            flush(k)  # the reply to Next is on screen
        else:
            let_it_run(k, step, here)
            k.settle()

    k.wait_screen("done")
    assert controller(k)["phase"] == "done"
    assert_shows(k, *w.done_words(k.status))
    assert_mentions(k, routine.name)
    assert not heater_pin_on(k)
    k.tap_text("Finish")
    k.wait_screen("home")
    check_home(k)


def test_yes_to_the_health_question_brings_the_gentle_profile_and_the_screens_say_so(kiosk):
    k = kiosk
    routine = SHIPPED["evening"]  # warmer and longer than the gentle profile allows
    assert routine.soak.target_c > GENTLE_TARGET_C and routine.soak.duration_s > GENTLE_SOAK_MAX_S
    k.tap(card(k, routine.name))
    k.wait_screen("health")
    assert_mentions(k, "we use the gentle setting: 37 °C")
    k.tap_text("Yes, one applies")
    k.wait_screen("fill")
    status = controller(k)
    assert (status["profile"], status["target_c"]) == ("gentle", GENTLE_TARGET_C)
    assert_mentions(k, "Gentle setting: 37 °C")

    k.tap_text("Continue")
    k.wait_screen("warm")
    assert_shows(k, f"Target {w.temperature(GENTLE_TARGET_C)}")
    ready = k.run_until(lambda s: s["phase"] == "ready", what="37 C")
    assert abs(ready["water_c"] - GENTLE_TARGET_C) <= 0.5
    k.settle()
    k.wait_screen("ready")
    assert_shows(k, w.ready_words(k.status))

    k.tap_text("Start")
    k.wait_screen("soak")
    shown(k, lambda s: s["phase"] == "soaking", "the soak")
    assert k.status["session"]["remaining_s"] == GENTLE_SOAK_MAX_S
    assert_shows(k, w.minutes(GENTLE_SOAK_MAX_S))
    k.tap_text("+1 min")  # already at the gentle profile's longest soak: refused
    flush(k)
    assert controller(k)["session"]["remaining_s"] == GENTLE_SOAK_MAX_S
    k.step(100)
    k.settle()
    assert k.status["session"]["remaining_s"] < GENTLE_SOAK_MAX_S
    warmest_c = max(c for _, c in k.service.controller.graph if c is not None)
    assert warmest_c < GENTLE_TARGET_C + 1.0, f"the gentle soak reached {warmest_c} C"


def test_choosing_then_going_back_changes_nothing(kiosk):
    k = kiosk
    k.tap(card(k, SHIPPED["quick"].name))
    k.wait_screen("health")
    k.tap_text("Back")
    k.wait_screen("home")
    flush(k)
    assert controller(k)["phase"] == "idle"
