"""Issue 5 section 2, the touch rules as tests: every button on every screen is at least 15 mm
(theme.TOUCH_MIN px) both ways; Stop is on every session screen, inside the panel, and
immediate (a tap during a screen's fade-in is not lost); no double taps and no long presses:
one tap does one thing once, and a second quick tap is just another tap on whatever is there.
"""

from __future__ import annotations

from kiosk.staff_pins import PinStore
from kiosk.ui import theme
from tests.kiosk.ui.drive import (
    SESSION_SCREENS,
    SHIPPED,
    STAFF,
    STAFF_PIN,
    api,
    buttons,
    card,
    controller,
    flush,
    go_to,
    shown,
    sign_in,
    stage,
)


def window_box(widget) -> tuple[float, float, float, float]:
    x, y = widget.to_window(*widget.pos)
    return x, y, x + widget.width, y + widget.height


def visible(widget) -> bool:
    """Drawn at full strength: neither it nor anything it sits in is faded out."""
    while widget is not None and widget is not widget.parent:  # the window is its own parent
        if widget.opacity < 1:
            return False
        widget = widget.parent
    return True


def check_buttons(k, seen: dict) -> None:
    """Every button on the current screen is big enough and fully on the panel."""
    for button in buttons(k):
        label = button.text.split("\n")[0]
        assert button.width >= theme.TOUCH_MIN and button.height >= theme.TOUCH_MIN, (
            f"{label!r} on {k.screen!r} is {button.width:.0f}x{button.height:.0f} px, "
            f"under {theme.TOUCH_MIN} px")
        x0, y0, x1, y1 = window_box(button)
        assert x0 >= 0 and y0 >= 0 and x1 <= theme.WIDTH and y1 <= theme.HEIGHT, (label, k.screen)
    seen[k.screen] = len(buttons(k))
    if k.screen in SESSION_SCREENS:
        stop = k.button("Stop")
        assert stop.enabled and visible(stop), f"Stop is not usable on {k.screen!r}"


def test_every_button_on_every_screen_is_at_least_15_mm_and_stop_is_on_every_session_screen(kiosk):
    k, seen = kiosk, {}
    PinStore(k.config.paths.state_dir).set(STAFF, STAFF_PIN)
    check_buttons(k, seen)
    k.tap(card(k, "Classic soak and massage"))
    k.wait_screen("health")
    check_buttons(k, seen)
    k.tap_text("No, none apply")
    for screen in ("fill", "warm", "ready", "soak"):
        k.wait_screen(screen)
        check_buttons(k, seen)
        if screen == "warm":
            k.run_until(lambda s: s["phase"] == "ready", what="ready")
        else:
            k.tap_text("Continue" if screen == "fill" else "Start" if screen == "ready" else "Stop")
    k.wait_screen("home")

    go_to(k, "step")  # classic: a prompt, a paced step, a timed step
    check_buttons(k, seen)
    for where in ((1, "left"), (1, "right"), (2, "left")):
        api(k, "confirm" if where == (1, "left") else "next")
        k.step()
        k.settle()
        shown(k, lambda s, where=where: stage(s) == ("steps", *where), f"step {where}")
        check_buttons(k, seen)
    while controller(k)["phase"] == "steps":
        api(k, "next")
    k.step()
    k.settle()
    k.wait_screen("done")
    check_buttons(k, seen)
    k.tap_text("Finish")
    k.wait_screen("home")

    sign_in(k)
    check_buttons(k, seen)
    k.tap_text("Close")
    k.wait_screen("home")
    for _ in range(5):
        k.tap(k.app.bar)
    k.wait_screen("pin")
    check_buttons(k, seen)
    k.tap_text("Cancel")
    k.wait_screen("home")

    go_to(k, "soak")
    k.service.sim.bath.unplug_sensor()
    k.run_until(lambda s: s["faults"], what="a fault")
    k.settle()
    k.wait_screen("fault")
    check_buttons(k, seen)
    k.service.server.stop()
    k.wait_screen("offline")
    check_buttons(k, seen)
    assert set(seen) == {"home", "health", "fill", "warm", "ready", "soak", "step", "done", "staff", "pin",
                         "fault", "offline"}
    assert seen["pin"] >= 12 and seen["home"] >= 4


def touch(k, x: float, y: float, *, hold_frames: int = 0):
    """A finger down and up at (x, y), through Kivy's whole input path, double-tap detection
    included, as the panel's events come."""
    from kivy.tests import UnitTestTouch

    finger = UnitTestTouch(x, y)
    k.EventLoop._dispatch_input("begin", finger)
    k.pump()
    k.pump(hold_frames)
    k.EventLoop._dispatch_input("end", finger)
    k.pump()
    return finger


def test_stop_during_a_screen_s_fade_in_is_not_lost(kiosk):
    k = kiosk
    go_to(k, "fill")
    k.tap_text("Continue")
    k.wait_for(lambda: k.screen == "warm", what="the warm screen coming in")
    assert k.app.manager.transition.is_active, "the fade was over before the tap: nothing tested"
    k.tap(k.button("Stop"))
    flush(k)
    assert controller(k)["phase"] == "stopped", "Stop tapped while the screen faded in was lost"
    k.wait_screen("home")


def test_a_quick_second_tap_is_just_a_new_tap_on_the_new_screen(kiosk):
    k = kiosk
    go_to(k, "ready")
    start = k.button("Start")
    x, y = start.to_window(*start.center)
    first = touch(k, x, y)
    k.wait_for(lambda: k.screen == "soak", what="the soak screen")
    second = touch(k, x, y)  # a double tap: the second lands on whatever the soak screen has there
    flush(k)
    assert not first.is_double_tap and not second.is_double_tap
    k.wait_screen("soak")
    under = [b.text for b in buttons(k) if b.collide_point(*b.to_widget(x, y))]
    assert len(under) <= 1
    status = controller(k)
    if under == ["Stop"]:
        assert status["phase"] == "stopped"
        return
    session = status["session"]
    assert status["phase"] == "soaking", "Start did not start the soak, or did more"
    paused = session["pause_reason"] == "user"
    extended = session["remaining_s"] > SHIPPED["classic"].soak.duration_s  # the bath stood still
    assert (paused, extended) == (under in (["Pause"], ["Resume"]), under == ["+1 min"]), under


def test_one_tap_does_its_action_once_and_a_long_press_or_a_double_tap_no_more(kiosk):
    k = kiosk
    go_to(k, "step")
    assert stage(controller(k)) == ("steps", 0, None)
    next_button = k.button("Next")
    x, y = next_button.to_window(*next_button.center)
    touch(k, x, y)
    flush(k)
    assert stage(controller(k)) == ("steps", 1, "left"), "one tap on Next did not move one step"
    shown(k, lambda s: stage(s) == ("steps", 1, "left"), "the next step")
    touch(k, x, y, hold_frames=20)  # held down for a while: still one step, on release
    flush(k)
    assert stage(controller(k)) == ("steps", 1, "right")
    shown(k, lambda s: stage(s) == ("steps", 1, "right"), "the next step")
    pair = touch(k, x, y), touch(k, x, y)  # a quick double tap is two taps: two steps, no more
    flush(k)
    assert not any(t.is_double_tap for t in pair)
    assert stage(controller(k)) == ("steps", 2, "right")
