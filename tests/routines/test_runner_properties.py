"""Random event sequences on every shipped routine: what must hold whatever a customer, a
flaky probe or a clock does.

Times are finite but otherwise anything: usual ticks, steps back and readings near the ends
of the float range. Water readings include no reading at all and values that are not numbers.
"""

from __future__ import annotations

import copy
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routines import PHASES, PROFILES, Session, SessionError, load_library
from routines.model import FEET, GENTLE_SOAK_MAX_S, GENTLE_TARGET_C, GENTLE_VIBRATION_MAX_PCT
from routines.runner import (
    DONE,
    ENDED,
    FAULT,
    FILL,
    GENTLE,
    HEAT_PHASES,
    HEATING,
    READY,
    SOAKING,
    STEPS,
    STOPPED,
)

pytestmark = pytest.mark.slow  # thousands of drawn sessions

LIBRARY = load_library(None)
ROUTINES = sorted(LIBRARY.entries)
TIME_STILL = (FILL, HEATING, READY, *ENDED, FAULT)  # phases in which time alone changes nothing

# (how, value): "by" moves the clock on from where it is, "at" sets it outright.
clock = st.one_of(
    st.tuples(st.just("by"), st.floats(0, 30)),
    st.tuples(st.just("by"), st.floats(0, 30)),
    st.tuples(st.just("by"), st.floats(0, 2000)),
    st.tuples(st.just("by"), st.floats(-120, 0)),
    st.tuples(st.just("at"), st.floats(allow_nan=False, allow_infinity=False)),
)
# (how, value): "near" is degrees from the session's target, so sessions get warm and going.
water = st.one_of(
    st.tuples(st.just("near"), st.floats(-0.5, 0.5)),
    st.tuples(st.just("near"), st.floats(-0.5, 0.5)),
    st.tuples(st.just("near"), st.floats(-3, 3)),
    st.tuples(st.just("raw"), st.none()),
    st.tuples(st.just("raw"), st.floats(0, 60)),
    st.tuples(st.just("raw"), st.floats(allow_nan=True, allow_infinity=True)),
)
extend_by = st.one_of(st.just(60), st.floats(0.5, 2000), st.sampled_from([0, -5, math.nan, math.inf]))
# Ticks and taps that move a session on are common; stops and faults, which end it, are rare.
KINDS = ["tick"] * 40 + ["confirm"] * 12 + ["next", "back", "extend", "pause", "resume"] * 4
KINDS += ["stop", "fault"]


@st.composite
def events(draw):
    kind = draw(st.sampled_from(KINDS))
    arg = draw(water) if kind == "tick" else draw(extend_by) if kind == "extend" else None
    return kind, draw(clock), arg


def send(s: Session, kind: str, now_s: float, arg) -> None:
    if kind == "tick":
        how, value = arg
        s.tick(now_s=now_s, water_c=s.target_c + value if how == "near" else value)
    elif kind == "extend":
        s.extend(now_s=now_s, seconds=arg)
    elif kind == "fault":
        s.fault(now_s=now_s, code="test", message="A fault for the test.")
    else:
        getattr(s, kind)(now_s=now_s)


def check(s: Session, snap) -> None:
    assert snap.phase in PHASES
    assert snap.heat_wanted == (snap.phase in HEAT_PHASES)
    if snap.phase in (DONE, STOPPED, FAULT, FILL, STEPS):
        assert not snap.heat_wanted
    for seconds in (snap.remaining_s, snap.session_remaining_s):
        assert seconds is None or (math.isfinite(seconds) and seconds >= 0)
    assert 0.0 <= snap.progress <= 1.0
    if snap.rep is not None:
        assert 1 <= snap.rep <= snap.reps
    step = s.routine.steps[snap.step_index] if snap.step_index is not None else None
    if snap.phase == STEPS and step.per_foot:
        assert snap.foot in FEET
    else:
        assert snap.foot is None
    if snap.profile == GENTLE:
        assert snap.target_c <= GENTLE_TARGET_C
        assert snap.vibration_pct <= GENTLE_VIBRATION_MAX_PCT
        if snap.phase == SOAKING:
            assert snap.remaining_s <= GENTLE_SOAK_MAX_S


def offered(before, kind: str, arg) -> bool | None:
    """Whether the screen before the event offered it: True, False, or None when the time the
    event carries decides (a countdown may run out on the way)."""
    counting = before.phase in (SOAKING, STEPS)
    running = counting and before.remaining_s is not None
    if kind == "tick":
        return True
    if kind == "confirm":
        return before.waiting_for_tap
    if kind == "next":
        return counting
    if kind == "resume":
        return before.pause_reason == "user"
    if kind == "stop":
        return before.phase not in ENDED
    if kind == "fault":  # refused once the session is over, even if it ended on the way
        return None if counting else before.phase not in (*ENDED, FAULT)
    if kind == "pause":
        return None if running and before.pause_reason != "user" else False
    if kind == "back":
        return None if before.phase == STEPS and (before.step_index or before.foot == "right") else False
    valid = math.isfinite(arg) and arg > 0
    return None if running and valid else False  # extend


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(routine_id=st.sampled_from(ROUTINES), profile=st.sampled_from(PROFILES),
       start_s=st.floats(-1e6, 1e6), script=st.lists(events(), min_size=20, max_size=120))
def test_random_sessions_keep_their_promises(routine_id, profile, start_s, script):
    s = Session.start(LIBRARY.get(routine_id), profile=profile, now_s=start_s)
    now_s = start_s
    ended_as = None
    check(s, s.snapshot())
    for kind, (how, t), arg in script:
        moved = now_s + t if how == "by" else t
        now_s = moved if math.isfinite(moved) else t
        before = s.snapshot()
        as_a_tick = None if before.phase in TIME_STILL else copy.deepcopy(s)
        expected = offered(before, kind, arg)
        try:
            send(s, kind, now_s, arg)
        except SessionError:
            assert expected is not True, (kind, before)
            after = s.snapshot()
            bad_amount = kind == "extend" and not (math.isfinite(arg) and arg > 0)
            if as_a_tick is None or bad_amount:
                assert after == before  # a refused event changes nothing
            else:  # the clock moved on, as a tick at that moment would have it, and nothing else
                as_a_tick.tick(now_s=now_s, water_c=before.water_c)
                assert after == as_a_tick.snapshot()
            if kind == "stop":
                assert after.phase in ENDED
        else:
            assert expected is not False, (kind, before)
            after = s.snapshot()
            if kind == "stop":  # or done, when its last countdown ran out on the way
                ran_out = after.phase == DONE and before.phase in (SOAKING, STEPS)
                assert after.phase == STOPPED or ran_out
            if kind == "tick" and before.phase not in ENDED:
                # time only ever brings the end nearer
                assert after.session_remaining_s <= before.session_remaining_s * (1 + 1e-12) + 1e-9
                assert after.progress >= before.progress - 1e-12
        check(s, after)
        if before.phase in ENDED:
            assert after.phase == before.phase  # done or stopped is final
        if kind == "stop":
            ended_as = ended_as or after.phase
        if ended_as is not None:
            assert after.phase == ended_as  # once stopped or done, it stays that way
