"""The controller on the simulated bath (issue 4, section 1): idle-off, the session time limit,
every injected fault (session ended, status, journal, start refused, acknowledged with a staff
PIN only once the condition is gone), the PIN lockout, the STOP button and heater-off.

Requests go to `controller.handle(op, args)` where the socket adds nothing, and through the real
client where the reply's error code matters. The bath is stepped by hand (see test_service).
"""

from __future__ import annotations

import threading

import pytest

from hardware import reading as r
from hardware import safety as s
from kiosk.client import ApiError
from kiosk.errors import KioskError
from kiosk.protocol import ApiRefused
from kiosk.staff_pins import LOCKOUT_S, MAX_TRIES
from routines import Routine, load_library
from tests.kiosk.baths import NO_CLEANING, STAFF, STAFF_PIN, Bath, Baths, local_routine, routine_yaml

WRONG_PIN = "0000"



def refused(bath: Bath, op: str, **args) -> ApiRefused:
    with pytest.raises(ApiRefused) as caught:
        bath.op(op, **args)
    return caught.value


def test_the_status_carries_what_the_design_promises(make_bath):
    bath = make_bath(water_c=30.0)
    status = bath.api("status")
    for key in ("phase", "routine", "water_c", "target_c", "heater", "faults", "remaining_s",
                "cleaning_needed", "routine_errors", "journal_error", "session", "interrupted"):
        assert key in status, key
    assert status["phase"] == "idle" and status["routine"] is None and status["heater"] is False
    assert status["water_c"] is None  # no reading yet: unknown, never a made-up value
    status = bath.step()
    assert status["water_c"] == pytest.approx(30.0, abs=0.2) and status["faults"] == []


def test_a_start_is_refused_for_what_cannot_be_started(make_bath):
    bath = make_bath(NO_CLEANING)
    assert refused(bath, "start", routine="nonesuch").code == "not_found"
    error = refused(bath, "start", routine="classic", profile="hot")
    assert error.code == "refused" and "unknown profile" in str(error)
    bath.start("classic")
    error = refused(bath, "start", routine="quick")
    assert error.code == "refused" and "already running" in str(error)
    assert refused(bath, "nonesuch").code == "unknown_op"
    bath.op("stop")
    error = refused(bath, "stop")
    assert "no session is running" in str(error)


# -- idle-off and the time limit ----------------------------------------------------------------

def short_routine(make_bath: Baths) -> Routine:
    """A local routine of a one-minute bubbling soak and one 10 s step."""
    path = local_routine(make_bath.config(), routine_yaml("Mine", 60, "Toe rotation", bubbles=True))
    return load_library(path.parent).get("mine")


@pytest.mark.parametrize("ending", ["stopped", "done"])
def test_idle_for_the_configured_time_after_a_session_every_output_is_off(make_bath, ending):
    short_routine(make_bath)
    bath = make_bath(NO_CLEANING + "session:\n  idle_off_s: 30\n", water_c=37.2)
    bath.start("mine")
    bath.to_phase("soaking")
    assert bath.output("pump") == 1.0  # the soak bubbles
    if ending == "stopped":
        status = bath.op("stop")
        assert status["note"] == "stopped by the customer"
    else:
        status = bath.to_phase("done")
    ended_s = bath.now_s
    assert status["phase"] == ending and bath.outputs_off() and status["locked"]
    bath.controller.rig.set_buzzer(True)  # something left on behind the session's back
    while bath.now_s < ended_s + 29.0:  # the screen shows the end for the idle time...
        status = bath.step()
        assert status["phase"] == ending and not status["heater"]
    status = bath.until(lambda s: s["phase"] == "idle", within_s=3, what="idle")  # ...then idles
    assert bath.now_s - ended_s == pytest.approx(30.0, abs=2.0)
    assert bath.outputs_off() and status["session"] is None and status["routine"] is None
    assert bath.journal("SELECT outcome FROM sessions") == [(ending,)]


def test_a_session_left_waiting_is_stopped_at_its_length_plus_the_margin(make_bath):
    routine = short_routine(make_bath)
    bath = make_bath("session:\n  margin_s: 600\n", water_c=36.0)
    started_s = bath.now_s
    bath.start("mine")
    limit_s = routine.length_s + 600
    status = bath.to_phase("ready")
    heated = False
    while status["phase"] == "ready":  # nobody ever puts their feet in
        status = bath.step()
        heated |= status["heater"]
        assert bath.now_s - started_s < limit_s + 2.0, status
    assert heated  # the water was held warm for them meanwhile
    assert bath.now_s - started_s == pytest.approx(limit_s, abs=2.0)
    assert status["phase"] == "stopped" and status["note"] == "the session ran past its time limit"
    assert not status["heater"] and bath.output("heater") == 0.0 and status["locked"]
    for _ in range(30):
        assert not bath.step()["heater"]
    assert bath.journal("SELECT outcome FROM sessions") == [("stopped",)]


# -- faults ---------------------------------------------------------------------------------------

FAULTS = {  # name: (inject, remove (None: it goes by itself), codes, holds until removed)
    "unplugged": (lambda b: b.unplug_sensor(), lambda b: b.plug_sensor(), {r.MISSING}, True),
    "crc burst": (lambda b: b.crc_burst(12.0), None, {r.CRC}, False),
    "probe lifted": (lambda b: b.lift_probe(), lambda b: b.lower_probe(), {s.PROBE_OUT}, False),
    "reading frozen": (lambda b: b.freeze_reading(), lambda b: b.unfreeze_reading(),
                       {s.SENSOR_FROZEN, s.NOT_HEATING}, False),
    "relay stuck": (lambda b: b.stick_relay(), lambda b: b.release_relay(),
                    {s.RELAY_STUCK, s.OVERHEAT}, True),
    "basin emptied": (lambda b: b.empty_basin(), lambda b: b.fill(37.0), {s.BASIN_EMPTY}, True),
    "over-hot fill": (lambda b: b.fill(43.0), None, {s.OVERHEAT}, True),
}


@pytest.mark.parametrize("name", FAULTS)
def test_each_injected_fault_ends_the_session_and_needs_a_staff_pin_once_it_is_gone(make_bath, name):
    inject, remove, codes, holds = FAULTS[name]
    bath = make_bath(NO_CLEANING, water_c=37.2, staff=True)
    bath.start("classic")
    bath.to_phase("soaking")
    session_id = bath.controller.session_id
    inject(bath.sim.bath)
    status = bath.until(lambda s: s["faults"], within_s=900, what="the fault")

    # The session ended with the fault; nothing is driven; the screen says what to do.
    fault = status["faults"][0]
    assert fault["code"] in codes and status["phase"] == "fault"
    assert status["session"]["fault_code"] == fault["code"] and status["session"]["fault_message"]
    assert not status["heater"] and bath.outputs_off() and status["locked"]
    assert bath.journal("SELECT id, outcome FROM sessions") == [(session_id, "fault")]
    assert (session_id, fault["code"], None) in bath.journal(
        "SELECT session_id, code, acknowledged_by FROM faults")

    # A new session is refused while it is latched, through the API as on the screen.
    with pytest.raises(ApiError, match="a fault needs a staff member first") as caught:
        bath.api("start", routine="classic")
    assert caught.value.code == "refused"
    with pytest.raises(ApiError, match="wrong staff PIN") as caught:
        bath.api("ack_fault", pin=WRONG_PIN)
    assert caught.value.code == "unauthorized"
    if holds:
        with pytest.raises(ApiError, match="cannot clear the fault yet"):
            bath.api("ack_fault", pin=STAFF_PIN)
        assert bath.api("status")["faults"]

    if remove is not None:
        remove(bath.sim.bath)
    acked = None
    deadline_s = bath.now_s + 1200
    while acked is None:  # staff try again now and then, until the condition is gone
        for _ in range(60):
            status = bath.step()
            assert not status["heater"] and status["phase"] == "fault"
        try:
            acked = bath.op("ack_fault", pin=STAFF_PIN)
        except ApiRefused as exc:
            assert "cannot clear the fault yet" in str(exc)
        assert bath.now_s < deadline_s, "the fault could never be acknowledged"
    assert acked["faults"] == [] and acked["phase"] == "idle"  # at once, not at the next reading
    who = bath.journal("SELECT DISTINCT acknowledged_by FROM faults")
    assert who == [(STAFF,)]
    assert bath.journal("SELECT who, action FROM staff_actions") == [(STAFF, "ack_fault")]
    assert "no fault to acknowledge" in str(refused(bath, "ack_fault", pin=STAFF_PIN))
    bath.controller.journal.flush()
    (ended_at,) = bath.journal("SELECT ended_at FROM sessions")[0]
    (last_sample,) = bath.journal("SELECT MAX(at) FROM samples")[0]
    assert last_sample <= ended_at  # the session's record stops at its fault

    status = bath.start("classic")  # a person starts again; heating is allowed again
    assert status["phase"] == "fill" and not status["locked"]


def test_a_fault_with_no_session_is_latched_too_and_blocks_the_start(make_bath):
    bath = make_bath(water_c=30.0, staff=True)
    bath.sim.bath.unplug_sensor()
    status = bath.until(lambda s: s["faults"], within_s=12, what="the fault")
    assert status["faults"][0]["code"] == r.MISSING and status["phase"] == "idle"
    assert bath.journal("SELECT session_id, code FROM faults") == [(None, r.MISSING)]
    assert "fault needs a staff member" in str(refused(bath, "start", routine="classic"))


def test_five_wrong_pins_lock_the_staff_out_then_the_right_pin_works_again(make_bath):
    bath = make_bath(water_c=30.0, staff=True)
    bath.sim.bath.unplug_sensor()
    bath.until(lambda s: s["faults"], within_s=12, what="the fault")
    bath.sim.bath.plug_sensor()
    bath.step()
    for _ in range(MAX_TRIES):
        with pytest.raises(ApiError, match="wrong staff PIN"):
            bath.api("ack_fault", pin=WRONG_PIN)
    locked_s = bath.now_s
    with pytest.raises(ApiError, match="too many wrong PINs; try again in 60 s") as caught:
        bath.api("ack_fault", pin=STAFF_PIN)  # even the right one, for now
    assert caught.value.code == "refused"
    with pytest.raises(KioskError, match="too many wrong PINs"):
        bath.op("clean", pin=STAFF_PIN, action="start")  # every staff action is locked out
    assert bath.api("status")["faults"]
    while bath.now_s < locked_s + LOCKOUT_S - 2.0:
        bath.step()
    with pytest.raises(ApiError, match=r"too many wrong PINs; try again in [12] s"):
        bath.api("ack_fault", pin=STAFF_PIN)
    bath.until(lambda s: bath.now_s >= locked_s + LOCKOUT_S, within_s=5, what="the lockout over")
    assert bath.api("ack_fault", pin=STAFF_PIN)["faults"] == []


# -- the STOP button and heater-off --------------------------------------------------------------

@pytest.mark.parametrize(("phase", "output"), [("heating", "heater"), ("soaking", "pump")])
def test_the_stop_button_cuts_every_output_at_once_and_ends_the_session(make_bath, phase, output):
    bath = make_bath(NO_CLEANING, water_c=30.0 if phase == "heating" else 37.2)
    bath.start("quick")
    bath.to_phase(phase)
    bath.until(lambda s: bath.output(output) == 1.0, within_s=10, what=f"the {output} on")
    session_id = bath.controller.session_id
    bath.sim.press_stop()
    assert bath.outputs_off()  # at the press, before the control loop has run again
    status = bath.step()
    assert status["phase"] == "stopped" and status["note"] == "the STOP button was pressed"
    assert status["stop_pressed"] and bath.outputs_off() and status["locked"]
    assert bath.journal("SELECT id, outcome FROM sessions") == [(session_id, "stopped")]
    assert bath.journal("SELECT who, action FROM staff_actions") == [("stop button", "stop")]

    with pytest.raises(ApiError, match="STOP button is held down") as caught:
        bath.api("start", routine="quick")
    assert caught.value.code == "refused"
    for _ in range(20):
        bath.step()
        assert bath.outputs_off()
    bath.sim.release_stop()
    status = bath.api("start", routine="quick")  # released: a new session may start
    assert status["phase"] == "fill" and not status["stop_pressed"]
    bath.to_phase("heating" if phase == "heating" else "soaking")
    bath.until(lambda s: bath.output(output) == 1.0, within_s=150, what=f"the {output} on again")


def test_heater_off_drives_every_output_off_and_ends_the_session(make_bath):
    bath = make_bath(water_c=37.2)
    bath.start("quick")
    bath.to_phase("soaking")
    assert bath.output("pump") == 1.0
    status = bath.api("heater_off")
    assert bath.outputs_off() and status["phase"] == "stopped" and status["locked"]
    assert "heater-off" in status["note"]
    for _ in range(30):
        assert not bath.step()["heater"] and bath.outputs_off()
    assert bath.journal("SELECT outcome FROM sessions") == [("stopped",)]
    assert bath.journal("SELECT who, action FROM staff_actions") == [("heater-off", "stop")]


def test_buzz_plays_its_pattern_on_the_buzzer_pin_and_ends_silent(make_bath):
    """The kiosk's chimes when it has no speaker: on, off, on ... as asked, then off."""
    bath = make_bath(water_c=30.0)
    pin = bath.sim.factory.pin(bath.sim.pins["buzzer"].number)
    assert bath.op("buzz", pattern=[0.01, 0.01, 0.01]) == {"buzzer": True}
    for thread in threading.enumerate():  # the op plays on its own thread: let it finish
        if thread.name == "footbath-buzz":
            thread.join(timeout=5)
    bath.controller._play_buzzer([0.01, 0.02, 0.01])  # the same player, on this thread
    states = [s.state for s in pin.states]
    assert states[-4:] == [True, False, True, False]  # active-high buzzer: on, off, on, off
    assert not bath.controller.rig.buzzer_on


def test_buzz_is_silent_after_the_stop_button(make_bath):
    bath = make_bath(water_c=30.0)
    bath.sim.press_stop()
    bath.controller._play_buzzer([0.01])
    assert not bath.controller.rig.buzzer_on
