"""Between-customer cleaning (issue 4, section 4): the guided cycle on its own with time passed in,
then through the controller on the simulated bath: required after every session, confirmed
with a staff PIN, the disinfectant's contact time enforced, journaled with who and when.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.cleaning import DISINFECT, STEPS, CleaningCycle
from kiosk.client import ApiError
from kiosk.protocol import ApiRefused
from tests.kiosk.baths import NO_CLEANING, STAFF, STAFF_PIN, Bath

CONTACT_S = 600.0


# -- the cycle on its own -------------------------------------------------------------------------

def test_the_cycle_goes_drain_scrub_disinfect_rinse():
    cycle = CleaningCycle(who=STAFF, contact_s=CONTACT_S, now_s=100.0)
    assert [key for key, _, _ in STEPS] == ["drain", "scrub", "disinfect", "rinse"]
    seen = []
    now_s, finished = 100.0, False
    while not finished:
        state = cycle.state(now_s)
        seen.append((state.step, state.index, state.count, state.who))
        if state.step == "disinfect":
            now_s += CONTACT_S
        finished = cycle.next(now_s)
        now_s += 1.0
    assert seen == [("drain", 0, 4, STAFF), ("scrub", 1, 4, STAFF), ("disinfect", 2, 4, STAFF),
                    ("rinse", 3, 4, STAFF)]
    assert cycle.finished
    with pytest.raises(ValueError, match="already finished"):
        cycle.next(now_s)


def test_the_disinfectant_counts_down_its_contact_time_and_holds_the_cycle_until_then():
    cycle = CleaningCycle(who=STAFF, contact_s=CONTACT_S, now_s=0.0)
    assert cycle.state(0.0).remaining_s is None  # no countdown before the disinfectant goes on
    cycle.next(5.0)
    cycle.next(60.0)  # the disinfectant goes on at 60 s
    assert cycle.state(60.0).step == "disinfect"
    assert cycle.state(60.0).remaining_s == CONTACT_S
    assert cycle.state(360.0).remaining_s == CONTACT_S - 300.0
    with pytest.raises(ValueError, match="needs 600 s more contact time"):
        cycle.next(60.0)
    with pytest.raises(ValueError, match="needs 300 s more contact time"):
        cycle.next(360.0)
    with pytest.raises(ValueError, match="needs 1 s more contact time"):
        cycle.next(60.0 + CONTACT_S - 0.001)
    assert cycle.state(60.0 + CONTACT_S).remaining_s == 0.0
    assert cycle.next(60.0 + CONTACT_S) is False  # on to the rinse, which has no countdown
    assert cycle.state(2000.0).step == "rinse" and cycle.state(2000.0).remaining_s is None
    assert cycle.next(2000.0) is True


@settings(max_examples=200, deadline=None)
@given(contact_s=st.integers(60, 3600), gaps=st.lists(st.floats(0.0, 5000.0), min_size=4, max_size=12))
def test_the_cycle_never_finishes_before_the_contact_time_has_run(contact_s, gaps):
    """Whenever staff tap Next: a refusal only while the countdown runs, and a finished cycle
    always had the full contact time between the disinfectant and the rinse."""
    now_s = 1000.0
    cycle = CleaningCycle(who=STAFF, contact_s=contact_s, now_s=now_s)
    disinfect_s = rinse_s = None
    for gap in gaps:
        now_s += gap
        before = cycle.index
        try:
            finished = cycle.next(now_s)
        except ValueError:
            assert before == DISINFECT and now_s - disinfect_s < contact_s
            continue
        if cycle.index == DISINFECT:
            disinfect_s = now_s
        elif before == DISINFECT:
            rinse_s = now_s
            assert rinse_s - disinfect_s >= contact_s
        if finished:
            assert rinse_s is not None and cycle.finished
            break


# -- between customers, on the bath -----------------------------------------------------------------


def one_session(bath: Bath, *, soak_s: float = 0.0) -> None:
    bath.start("quick")
    bath.to_phase("soaking")
    soaked_s = bath.now_s + soak_s
    bath.until(lambda s: bath.now_s >= soaked_s, within_s=soak_s + 2, what="the soak")
    bath.op("stop")


def clean(bath: Bath, action: str, pin: str = STAFF_PIN) -> dict:
    return bath.api("clean", pin=pin, action=action)


def test_by_default_the_disinfectant_needs_ten_minutes(make_bath):
    bath = make_bath(water_c=37.2, staff=True)  # no cleaning section in the config
    clean(bath, "start")
    clean(bath, "next")
    assert clean(bath, "next")["cleaning"]["remaining_s"] == 600.0
    with pytest.raises(ApiError, match="needs 600 s more contact time"):
        clean(bath, "next")
    bath.until(lambda s: s["cleaning"]["remaining_s"] < 595.0, within_s=10, what="counting down")
    with pytest.raises(ApiError, match=r"needs 59[5-9] s more contact time"):
        clean(bath, "next")


def test_after_each_session_the_basin_must_be_cleaned_before_the_next(make_bath):
    bath = make_bath("cleaning:\n  contact_s: 300\n", water_c=37.2, staff=True)
    assert bath.api("status")["cleaning_needed"] is False  # a fresh journal: nothing to clean
    one_session(bath)
    status = bath.api("status")
    assert status["cleaning_needed"] is True and status["cleaning"] is None
    with pytest.raises(ApiError, match="the basin needs cleaning before the next session") as caught:
        bath.api("start", routine="quick")
    assert caught.value.code == "refused"
    with pytest.raises(ApiError, match="wrong staff PIN") as caught:
        clean(bath, "start", pin="0000")
    assert caught.value.code == "unauthorized"
    with pytest.raises(ApiError, match="no cleaning cycle is running"):
        clean(bath, "next")

    started_s = bath.now_s
    assert clean(bath, "start")["cleaning"]["step"] == "drain"
    bath.step()
    assert clean(bath, "next")["cleaning"]["step"] == "scrub"
    bath.step()
    status = clean(bath, "next")
    assert status["cleaning"]["step"] == "disinfect" and status["cleaning"]["remaining_s"] == 300.0
    disinfect_s = bath.now_s
    with pytest.raises(ApiError, match="needs 300 s more contact time") as caught:
        clean(bath, "next")
    assert caught.value.code == "refused"
    status = bath.until(lambda s: bath.now_s >= disinfect_s + 200.0, within_s=202, what="200 s")
    assert status["cleaning"]["remaining_s"] == pytest.approx(300.0 - (bath.now_s - disinfect_s))
    assert status["cleaning_needed"] is True
    with pytest.raises(ApiError, match="more contact time"):
        clean(bath, "next")
    bath.until(lambda s: s["cleaning"]["remaining_s"] == 0.0, within_s=102, what="the contact time")
    assert clean(bath, "next")["cleaning"]["step"] == "rinse"
    bath.step()
    status = clean(bath, "next")
    assert status["cleaning_needed"] is False and status["cleaning"] is None
    finished_s = bath.now_s

    rows = bath.journal("SELECT who, contact_s, finished_at - started_at FROM cleanings")
    assert len(rows) == 1 and rows[0][:2] == (STAFF, 300)
    assert rows[0][2] == pytest.approx(finished_s - started_s, abs=0.01)  # when, on the journal's clock
    (last_end,) = bath.journal("SELECT MAX(ended_at) FROM sessions")[0]
    (finished_at,) = bath.journal("SELECT finished_at FROM cleanings")[0]
    assert finished_at > last_end
    assert bath.api("start", routine="quick")["phase"] == "fill"


def test_a_cancelled_cycle_records_nothing_and_the_basin_still_needs_cleaning(make_bath):
    bath = make_bath(water_c=37.2, staff=True)
    one_session(bath)
    clean(bath, "start")
    clean(bath, "next")
    status = clean(bath, "cancel")
    assert status["cleaning"] is None and status["cleaning_needed"] is True
    assert bath.journal("SELECT COUNT(*) FROM cleanings") == [(0,)]
    with pytest.raises(ApiError, match="needs cleaning"):
        bath.api("start", routine="quick")


def test_no_cleaning_is_started_during_a_session_and_every_action_needs_the_pin(make_bath):
    bath = make_bath(water_c=37.2, staff=True)
    bath.start("quick")
    with pytest.raises(ApiRefused, match="a session is running; clean after it"):
        bath.op("clean", pin=STAFF_PIN, action="start")
    with pytest.raises(ApiError) as caught:
        bath.api("clean", action="start")  # no PIN at all: the request itself is refused
    assert caught.value.code == "bad_request"
    with pytest.raises(ApiError) as caught:
        bath.api("clean", pin=STAFF_PIN, action="skip")
    assert caught.value.code == "bad_request"


def test_the_contact_time_comes_from_the_config(make_bath):
    bath = make_bath("cleaning:\n  contact_s: 90\n", water_c=37.2, staff=True)
    one_session(bath)
    clean(bath, "start")
    clean(bath, "next")
    assert clean(bath, "next")["cleaning"]["remaining_s"] == 90.0
    bath.until(lambda s: s["cleaning"]["remaining_s"] == 0.0, within_s=92, what="the contact time")
    clean(bath, "next")
    assert clean(bath, "next")["cleaning_needed"] is False
    assert bath.journal("SELECT contact_s FROM cleanings") == [(90,)]


def test_the_requirement_can_be_turned_off(make_bath):
    bath = make_bath(NO_CLEANING, water_c=37.2)
    one_session(bath)
    assert bath.api("status")["cleaning_needed"] is False
    assert bath.api("start", routine="quick")["phase"] == "fill"


def test_cleaning_needed_survives_a_restart_and_so_does_a_recorded_cleaning(make_bath):
    """Simulated time runs far ahead of the real clock here (minutes of soak in milliseconds):
    the journal's order must hold across restarts all the same."""
    extra = "cleaning:\n  contact_s: 60\n"
    first = make_bath(extra, water_c=37.2, staff=True)
    one_session(first, soak_s=250.0)
    first.close()
    second = make_bath(extra, water_c=37.2)  # the same state dir: the journal remembers
    assert second.api("status")["cleaning_needed"] is True
    clean(second, "start")
    clean(second, "next")
    clean(second, "next")
    second.until(lambda s: s["cleaning"]["remaining_s"] == 0.0, within_s=62, what="the contact time")
    clean(second, "next")
    clean(second, "next")
    second.close()
    third = make_bath(extra, water_c=37.2)
    assert third.api("status")["cleaning_needed"] is False
