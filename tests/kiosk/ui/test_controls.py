"""Issue 5 section 4: Pause, +1 min, Back and Next do what they say, checked in the controller's
own status after each tap; Stop returns home and the heater goes off, from every session screen.
"""

from __future__ import annotations

from kiosk.ui import words as w
from tests.kiosk.ui.drive import (
    SESSION_SCREENS,
    SHIPPED,
    assert_shows,
    controller,
    flush,
    go_to,
    heater_pin_on,
    shown,
    stage,
)


def remaining(k) -> float:
    return controller(k)["session"]["remaining_s"]


def test_pause_and_one_more_minute_on_the_soak(kiosk):
    k = kiosk
    go_to(k, "soak")
    k.step(30)
    k.settle()
    before = remaining(k)

    k.tap_text("Pause")
    shown(k, lambda s: s["session"]["pause_reason"] == "user", "the soak paused")
    assert controller(k)["session"]["pause_reason"] == "user"
    assert_shows(k, w.pause_words("user"), "Resume")
    k.step(40)
    k.settle()
    assert remaining(k) == before, "a paused soak kept counting down"
    assert_shows(k, w.minutes(before))

    k.tap_text("Resume")
    shown(k, lambda s: s["session"]["pause_reason"] != "user", "the soak resumed")
    assert_shows(k, "Pause")
    # It counts down again (unless the water needs warming after the pause: then it waits)
    k.run_until(lambda s: s["session"]["remaining_s"] < before, max_steps=300, what="the countdown")
    k.settle()
    running = remaining(k)

    k.tap_text("+1 min")
    shown(k, lambda s: s["session"]["remaining_s"] == running + 60, "one more minute")
    assert remaining(k) == running + 60
    assert_shows(k, w.minutes(running + 60))


def test_back_and_next_move_through_the_steps_and_pause_holds_a_step(kiosk):
    k = kiosk
    go_to(k, "step")  # classic: dry your feet (a prompt), then three steps on each foot

    def tap_and_expect(label: str, where: tuple) -> None:
        k.tap_text(label)
        shown(k, lambda s: stage(s) == ("steps", *where), f"{label} to {where}")
        assert stage(controller(k)) == ("steps", *where)

    assert stage(controller(k)) == ("steps", 0, None)
    tap_and_expect("Next", (1, "left"))
    tap_and_expect("Next", (1, "right"))
    tap_and_expect("Back", (1, "left"))
    tap_and_expect("Back", (0, None))
    tap_and_expect("Next", (1, "left"))
    tap_and_expect("Next", (1, "right"))
    tap_and_expect("Next", (2, "left"))
    tap_and_expect("Back", (1, "right"))
    tap_and_expect("Next", (2, "left"))

    k.step(5)
    k.settle()
    before = remaining(k)
    k.tap_text("Pause")
    shown(k, lambda s: s["session"]["pause_reason"] == "user", "the step paused")
    k.step(20)
    k.settle()
    assert remaining(k) == before and stage(controller(k)) == ("steps", 2, "left")
    assert_shows(k, w.pause_words("user"))
    k.tap_text("Resume")
    shown(k, lambda s: s["session"]["pause_reason"] is None, "the step running again")
    k.step(2)
    assert remaining(k) < before


def test_a_prompt_cannot_be_paused(kiosk):
    k = kiosk
    go_to(k, "step")
    assert controller(k)["session"]["waiting_for_tap"]
    assert not k.button("Pause").enabled
    k.tap_text("Pause")
    flush(k)
    assert controller(k)["session"]["pause_reason"] is None
    assert stage(controller(k)) == ("steps", 0, None)


def test_stop_returns_home_and_switches_the_heater_off_from_every_session_screen(kiosk):
    k = kiosk
    for screen in SESSION_SCREENS:
        go_to(k, screen)
        assert k.screen == screen
        if screen == "warm":
            k.run_until(lambda s: s["heater"], max_steps=5, what="the heater on")
            k.settle()
        heating = heater_pin_on(k)
        if screen == "warm":
            assert heating and k.status["heater"]
        k.tap_text("Stop")
        k.wait_screen("home")
        status = controller(k)
        assert status["phase"] == "stopped", screen
        assert not status["heater"] and not heater_pin_on(k), f"the heater stayed on after Stop on {screen}"
        shown(k, lambda s: s["phase"] == "stopped" and not s["heater"], "the heater off on screen")
        k.step(5)
        assert not heater_pin_on(k), f"the heater came back on after Stop on {screen}"



def test_a_new_soak_starts_from_its_own_length_after_the_last_one_was_made_longer(kiosk):
    k = kiosk
    soak_s = SHIPPED["classic"].soak.duration_s
    go_to(k, "soak")
    longer_s = remaining(k) + 60
    k.tap_text("+1 min")
    shown(k, lambda s: s["session"]["remaining_s"] == longer_s, "one more minute")
    assert k.app.soak_length_s(k.status["session"]) == longer_s
    k.tap_text("Stop")
    k.wait_screen("home")
    go_to(k, "soak")
    shown(k, lambda s: s["phase"] == "soaking", "the new soak")
    session = k.status["session"]
    assert session["remaining_s"] <= soak_s
    assert k.app.soak_length_s(session) <= soak_s, "the new soak's ring starts part-empty"
