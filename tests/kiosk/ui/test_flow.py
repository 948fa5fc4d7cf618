"""Which screen the kiosk shows (kiosk.ui.flow, pure): every phase the controller reports, with
and without faults, offline, on the staff screen or at the PIN pad, with a routine chosen or
not, the summary dismissed or not."""

from __future__ import annotations

import itertools

import pytest

from kiosk.ui import flow
from kiosk.ui.flow import UiState, screen_for
from routines.runner import PHASES

IDLE = "idle"  # the controller's phase with no session
ALL_PHASES = (IDLE, *PHASES)
SESSION = {"fill": "fill", "heating": "warm", "ready": "ready", "soaking": "soak", "steps": "step"}
FAULTS = ([], [{"code": "sensor_missing", "message": "the thermometer is not answering"}])


def status(phase: str, faults: list | None = None) -> dict:
    return {"phase": phase, "faults": list(faults or [])}


def ui_states():
    """Every combination of what the kiosk itself remembers."""
    for chosen, dismissed, pin_entry, staff in itertools.product(
            (None, "classic"), (False, True), (False, True), (None, "anna")):
        yield UiState(chosen=chosen, dismissed=dismissed, pin_entry=pin_entry, staff=staff)


CASES = [(phase, faults, ui) for phase in ALL_PHASES for faults in FAULTS for ui in ui_states()]


def expected(phase: str, faults: list, ui: UiState) -> str:
    """The rules, in order: staff first, then the PIN pad, then any fault, then the session."""
    if ui.staff:
        return flow.STAFF
    if ui.pin_entry:
        return flow.PIN
    if faults or phase == "fault":
        return flow.FAULT
    if phase in SESSION:
        return SESSION[phase]
    if phase == "done" and not ui.dismissed:
        return flow.DONE
    return flow.HEALTH if ui.chosen else flow.HOME


@pytest.mark.parametrize(("phase", "faults", "ui"), CASES,
                         ids=[f"{p}-{'fault' if f else 'ok'}-{i}" for i, (p, f, _) in enumerate(CASES)])
def test_the_screen_for_every_phase_fault_and_kiosk_state(phase, faults, ui):
    assert screen_for(status(phase, faults), ui) == expected(phase, faults, ui)


@pytest.mark.parametrize("ui", list(ui_states()))
def test_no_status_means_the_controller_is_away_whatever_else_is_going_on(ui):
    assert screen_for(None, ui) == flow.OFFLINE


def test_the_table_covers_every_screen_but_offline():
    shown = {screen_for(status(p, f), ui) for p, f, ui in CASES}
    screens = {flow.HOME, flow.HEALTH, flow.FILL, flow.WARM, flow.READY, flow.SOAK, flow.STEP, flow.DONE,
               flow.FAULT, flow.PIN, flow.STAFF}
    assert shown == screens


@pytest.mark.parametrize("phase", PHASES)
def test_a_fault_wins_over_every_session_phase(phase):
    assert screen_for(status(phase, FAULTS[1]), UiState()) == flow.FAULT
    assert screen_for(status(phase, FAULTS[1]), UiState(chosen="quick", dismissed=True)) == flow.FAULT


def test_every_session_phase_has_its_own_screen():
    assert flow.SESSION_SCREENS == SESSION
    for phase, screen in SESSION.items():
        assert screen_for(status(phase), UiState(chosen="classic")) == screen


@pytest.mark.parametrize("phase", list(SESSION))
def test_a_session_under_way_forgets_the_choice_and_the_dismissed_summary(phase):
    ui = UiState(chosen="classic", dismissed=True, pin_entry=True, staff="anna")
    ui.seen(status(phase))
    assert (ui.chosen, ui.dismissed) == (None, False)
    assert not ui.pin_entry, "a PIN pad opened before would hide the session and its Stop"
    assert ui.staff == "anna"  # staff who are signed in stay so


@pytest.mark.parametrize("phase", [IDLE, "done", "stopped", "fault"])
def test_outside_a_session_the_kiosk_keeps_what_the_customer_and_staff_did(phase):
    ui = UiState(chosen="classic", dismissed=True, pin_entry=True)
    ui.seen(status(phase))
    ui.seen(None)
    assert (ui.chosen, ui.dismissed, ui.pin_entry) == ("classic", True, True)


def test_a_finished_session_shows_its_summary_until_finish_then_home():
    ui = UiState()
    ui.seen(status("steps"))
    assert screen_for(status("done"), ui) == flow.DONE
    ui.dismissed = True
    assert screen_for(status("done"), ui) == flow.HOME
    assert screen_for(status(IDLE), ui) == flow.HOME  # the controller forgets the session later
    ui.seen(status("fill"))  # the next customer's session brings the summary back at its end
    assert screen_for(status("done"), ui) == flow.DONE
