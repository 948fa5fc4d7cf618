"""Issue 5 section 4: a controller fault shows the fault screen within one update, in plain
words with the heater's state; the controller going away shows "reconnecting", and the app
comes back by itself when the controller does."""

from __future__ import annotations

from kiosk.server import ApiServer
from kiosk.ui import words as w
from tests.kiosk.ui.drive import assert_shows, controller, go_to, heater_pin_on, shown


def record_screens(k) -> list[tuple[dict | None, str]]:
    """(status, screen shown right after the app took it) for every status from now on."""
    seen: list[tuple[dict | None, str]] = []
    link = k.app.link
    take = link.on_status

    def taken(status):
        take(status)
        seen.append((status, k.screen))

    link.on_status = taken
    return seen


def test_a_fault_shows_the_fault_screen_with_the_first_status_that_carries_it(kiosk):
    k = kiosk
    go_to(k, "warm")
    k.run_until(lambda s: s["heater"], max_steps=5, what="the heater on")
    k.settle()
    seen = record_screens(k)
    k.service.sim.bath.unplug_sensor()
    faulted = k.run_until(lambda s: s["faults"], max_steps=20, what="a fault")
    k.settle()
    assert k.screen == "fault"
    first = next(i for i, (status, _) in enumerate(seen) if status and status["faults"])
    assert [screen for _, screen in seen[first:]] == ["fault"] * (len(seen) - first)

    code = faulted["faults"][0]["code"]
    assert_shows(k, w.fault_words(code), "Heater: off")
    assert not heater_pin_on(k) and not k.status["heater"]
    on_screen = " ".join(k.texts())
    assert code not in on_screen and faulted["faults"][0]["message"] not in on_screen


def test_a_fault_with_no_session_running_still_shows(kiosk):
    k = kiosk
    k.service.sim.bath.unplug_sensor()
    k.run_until(lambda s: s["faults"], max_steps=20, what="a fault")
    k.settle()
    k.wait_screen("fault")
    assert_shows(k, "Heater: off")


def test_the_controller_going_away_shows_reconnecting_and_the_app_comes_back_by_itself(kiosk):
    k = kiosk
    go_to(k, "soak")
    k.service.server.stop()
    k.wait_screen("offline")
    assert any("Reconnecting" in t for t in k.texts())
    assert k.status is None

    k.step(5)  # the bath goes on without the screen, and keeps its session
    service = k.service
    service.server = ApiServer(service.socket_path, service._handle, status=service.controller.status)
    service.server.start()
    k.wait_screen("soak")
    shown(k, lambda s: s["phase"] == "soaking", "the soak again")

    # and the first tap after the return is not lost
    k.tap_text("Pause")
    shown(k, lambda s: s["session"]["pause_reason"] == "user", "the soak paused")
    assert controller(k)["session"]["pause_reason"] == "user"
