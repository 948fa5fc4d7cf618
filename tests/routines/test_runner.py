"""The session runner, driven event by event with times the test chooses.

The numbers are worked out by hand for the small routines below, so a wrong sum, a wrong
stage order or a countdown that counts while it should wait shows up as a wrong value.
"""

from __future__ import annotations

import dataclasses
import math

import pytest

from routines import GENTLE, STANDARD, Routine, RoutineError, Session, SessionError, Soak, Step, parse_routine
from routines.runner import FEET_SETTLE_S, RATE_SPAN_S

# Stages: soak 120 s | Dry (prompt, counted as 30 s) | Strokes left 30 s | Strokes right 30 s | Rest 20 s.
# In all 230 s.
TINY = """\
id: tiny
name: Tiny
description: A small routine for the runner tests.
soak:
  target_c: 38.0
  duration_s: 120
  bubbles: true
  vibration_pct: 50
steps:
  - title: Dry
    say: Pat your feet dry.
    wait_for_tap: true
    illustration: dry
  - title: Strokes
    say: Stroke from the toes to the ankle.
    reps: 3
    rep_s: 10
    per_foot: true
    vibration_pct: 80
    illustration: top_strokes
  - title: Rest
    say: Sit back and rest.
    duration_s: 20
"""

# Stages: soak 120 s | Rest 20 s | Strokes left 30 s | Strokes right 30 s | Dry (prompt).
TIMED_FIRST = """\
id: timed-first
name: Timed first
description: The massage starts straight after the soak.
soak:
  target_c: 39.5
  duration_s: 120
  additives: A spoon of salt.
steps:
  - title: Rest
    say: Sit back and rest.
    duration_s: 20
  - title: Strokes
    say: Stroke from the toes to the ankle.
    reps: 3
    rep_s: 10
    per_foot: true
  - title: Dry
    say: Pat your feet dry.
    wait_for_tap: true
"""


def routine(text: str = TINY, **soak) -> Routine:
    r = parse_routine(text, "test.yaml")
    return dataclasses.replace(r, soak=dataclasses.replace(r.soak, **soak)) if soak else r


def start(text: str = TINY, *, profile: str = STANDARD, now_s: float = 0.0, **soak) -> Session:
    return Session.start(routine(text, **soak), profile=profile, now_s=now_s)


def settle(s: Session, end_s: float, water_c: float | None) -> None:
    """A reading every second, the same value, for the settling span up to end_s."""
    for k in range(int(RATE_SPAN_S), -1, -1):
        s.tick(now_s=end_s - k, water_c=water_c)


def soaking(text: str = TINY, *, profile: str = STANDARD, now_s: float = 0.0, **soak) -> Session:
    """A session whose soak countdown has just started at now_s, water settled at the target."""
    s = start(text, profile=profile, now_s=now_s - RATE_SPAN_S, **soak)
    s.confirm(now_s=now_s - RATE_SPAN_S)
    settle(s, now_s, s.target_c)
    s.confirm(now_s=now_s)
    assert s.snapshot().phase == "soaking"
    return s


def at_strokes_left(now_s: float = 0.0) -> Session:
    """TINY with the left-foot Strokes countdown just started at now_s."""
    s = soaking(now_s=now_s)
    s.next(now_s=now_s)
    s.confirm(now_s=now_s)
    snap = s.snapshot()
    assert (snap.title, snap.foot, snap.remaining_s) == ("Strokes", "left", 30)
    return s


# -- phases -------------------------------------------------------------------------------


def test_a_session_walks_through_every_phase_with_the_numbers_worked_out_by_hand():
    s = start()
    snap = s.snapshot()
    assert (snap.phase, snap.title, snap.step_index, snap.step_count) == ("fill", "Fill the basin", None, 3)
    assert (snap.remaining_s, snap.session_remaining_s, snap.progress) == (None, 230, 0.0)
    assert (snap.target_c, snap.heat_wanted, snap.waiting_for_tap) == (38.0, False, True)
    assert snap.next_title == "Soak"
    assert (snap.bubbles, snap.vibration_pct, snap.rep, snap.reps, snap.foot) == (False, 0, None, None, None)

    s.confirm(now_s=0)
    s.tick(now_s=0, water_c=30.0)
    snap = s.snapshot()
    assert (snap.phase, snap.title, snap.heat_wanted, snap.waiting_for_tap) == (
        "heating", "Warming the water", True, False)
    assert snap.text == "The water is warming to 38.0 C."
    assert (snap.water_c, snap.session_remaining_s, snap.next_title) == (30.0, 230, "Soak")

    settle(s, 100, 38.3)
    snap = s.snapshot()
    assert (snap.phase, snap.title, snap.heat_wanted, snap.waiting_for_tap) == ("ready", "Ready", True, True)
    assert "38.0 C" in snap.text

    s.confirm(now_s=100)  # feet in: the countdown starts now, not when the water got warm
    snap = s.snapshot()
    assert (snap.phase, snap.title, snap.step_index, snap.remaining_s) == ("soaking", "Soak", None, 120)
    assert (snap.session_remaining_s, snap.progress, snap.next_title) == (230, 0.0, "Dry")
    assert (snap.heat_wanted, snap.bubbles, snap.vibration_pct, snap.paused) == (True, True, 50, False)
    assert snap.text == "Relax with your feet in the water at 38.0 C."

    s.tick(now_s=146, water_c=38.0)
    snap = s.snapshot()
    assert (snap.remaining_s, snap.session_remaining_s) == (74, 184)
    assert snap.progress == pytest.approx(46 / 230)

    s.tick(now_s=220, water_c=38.0)
    snap = s.snapshot()
    assert (snap.phase, snap.step_index, snap.title, snap.text) == ("steps", 0, "Dry", "Pat your feet dry.")
    assert (snap.remaining_s, snap.session_remaining_s, snap.next_title) == (None, 110, "Strokes")
    assert snap.progress == pytest.approx(120 / 230)
    assert (snap.waiting_for_tap, snap.heat_wanted, snap.bubbles) == (True, False, False)
    assert snap.illustration == "dry"

    s.tick(now_s=1000, water_c=38.0)  # a prompt waits as long as it takes
    assert s.snapshot().title == "Dry"
    s.confirm(now_s=1000)
    s.tick(now_s=1015, water_c=38.0)
    snap = s.snapshot()
    assert (snap.step_index, snap.title, snap.foot, snap.remaining_s) == (1, "Strokes", "left", 15)
    assert (snap.rep, snap.reps, snap.rep_s, snap.vibration_pct) == (2, 3, 10, 80)
    assert (snap.session_remaining_s, snap.next_title, snap.waiting_for_tap) == (65, "Strokes", False)
    assert snap.progress == pytest.approx(165 / 230)

    s.tick(now_s=1030, water_c=38.0)
    snap = s.snapshot()
    assert (snap.step_index, snap.foot, snap.remaining_s, snap.rep) == (1, "right", 30, 1)
    assert (snap.session_remaining_s, snap.next_title) == (50, "Rest")

    s.tick(now_s=1065, water_c=38.0)
    snap = s.snapshot()
    assert (snap.step_index, snap.title, snap.foot, snap.remaining_s) == (2, "Rest", None, 15)
    assert (snap.rep, snap.reps, snap.rep_s, snap.session_remaining_s, snap.next_title) == (
        None, None, None, 15, None)

    s.tick(now_s=1080, water_c=38.0)
    snap = s.snapshot()
    assert (snap.phase, snap.title, snap.step_index, snap.remaining_s) == ("done", "All done", None, None)
    assert (snap.session_remaining_s, snap.progress, snap.heat_wanted) == (0, 1.0, False)
    assert snap.next_title is None


def test_the_water_is_ready_within_half_a_degree_either_side():
    for water_c, phase in ((37.49, "heating"), (37.5, "ready"), (38.5, "ready"), (38.51, "heating")):
        s = start()
        s.confirm(now_s=0)
        settle(s, 20, water_c)
        assert s.snapshot().phase == phase, water_c


def test_ready_falls_back_to_heating_only_beyond_one_degree():
    s = start()
    s.confirm(now_s=0)
    settle(s, 20, 38.0)
    for water_c in (37.0, 39.0, None):  # a degree off, or no reading, keeps it ready
        s.tick(now_s=21, water_c=water_c)
        assert s.snapshot().phase == "ready"
    s.tick(now_s=22, water_c=36.9)
    assert s.snapshot().phase == "heating"


def test_a_basin_filled_too_hot_says_it_is_cooling_not_warming():
    s = start()
    s.confirm(now_s=0)
    s.tick(now_s=1, water_c=42.0)
    snap = s.snapshot()
    assert (snap.phase, snap.title) == ("heating", "Letting the water cool")
    assert snap.text == "The water is too hot; it is cooling to 38.0 C."
    settle(s, 40, 38.4)  # once the hot reading has left the settling window
    assert s.snapshot().phase == "ready"


def test_fill_waits_for_the_tap_whatever_the_water():
    s = start()
    s.tick(now_s=5, water_c=38.0)
    assert s.snapshot().phase == "fill"
    s.confirm(now_s=6)
    assert s.snapshot().phase == "heating"  # the next readings decide, the probe may have been dry
    settle(s, 20, 38.0)
    assert s.snapshot().phase == "ready"


@pytest.mark.parametrize(("water_c", "reason"), [
    (35.9, "water_cold"), (39.1, "water_hot"), (None, "no_reading"), (math.nan, "no_reading"),
    (math.inf, "no_reading"), (-math.inf, "no_reading"),
])
def test_the_soak_countdown_waits_while_the_water_is_out_of_band(water_c, reason):
    s = soaking()
    s.tick(now_s=10, water_c=water_c)  # the 10 s before this reading were in band
    snap = s.snapshot()
    assert (snap.remaining_s, snap.paused, snap.pause_reason, snap.heat_wanted) == (110, True, reason, True)
    assert snap.water_c is None if reason == "no_reading" else snap.water_c == water_c
    s.tick(now_s=500, water_c=38.0)  # held all along: nothing of these 490 s counts
    snap = s.snapshot()
    assert (snap.remaining_s, snap.paused, snap.pause_reason) == (110, False, None)
    s.tick(now_s=530, water_c=38.0)
    assert s.snapshot().remaining_s == 80


def test_feet_going_in_may_cool_the_water_by_two_degrees_before_the_countdown_waits():
    """The tap that starts the soak says the feet are in; they take a degree or two, which the
    heater makes up within FEET_SETTLE_S. After that, the usual band holds."""
    s = soaking(duration_s=600)
    s.tick(now_s=30, water_c=36.1)
    assert not s.snapshot().paused
    s.tick(now_s=31, water_c=35.9)
    assert s.snapshot().pause_reason == "water_cold"
    s.tick(now_s=32, water_c=38.0)
    s.tick(now_s=FEET_SETTLE_S + 2, water_c=38.0)
    s.tick(now_s=FEET_SETTLE_S + 3, water_c=36.9)
    assert s.snapshot().pause_reason == "water_cold"


def test_the_countdown_waits_for_cold_water_only_if_the_heater_controls_estimate_agrees():
    """After the feet, a lagging probe shows the dip for a minute after the heat made it up."""
    s = soaking(duration_s=600)
    s.tick(now_s=10, water_c=35.5, estimate_c=37.6)
    assert not s.snapshot().paused
    s.tick(now_s=11, water_c=35.5, estimate_c=35.8)
    assert s.snapshot().pause_reason == "water_cold"
    s.tick(now_s=12, water_c=35.5)  # no estimate: the reading alone
    assert s.snapshot().pause_reason == "water_cold"


def test_ready_only_once_the_reading_has_settled():
    s = start()
    s.confirm(now_s=0)
    for t in range(0, 40):  # rising 0.06 C/s through the target: not settled
        s.tick(now_s=t, water_c=37.0 + 0.06 * t)
        assert s.snapshot().phase == "heating", t
    s = start()
    s.confirm(now_s=0)
    for t in range(0, 40):  # slowly, but heading out of tolerance within half a minute
        s.tick(now_s=t, water_c=37.6 + 0.04 * t)
        assert s.snapshot().phase == "heating", t


def test_ready_needs_the_laws_estimate_within_tolerance_too():
    s = start()
    s.confirm(now_s=0)
    for t in range(0, 21):  # the reading says 38, the water behind the lagging probe is warmer
        s.tick(now_s=t, water_c=38.0, estimate_c=38.8)
    assert (s.snapshot().phase, s.snapshot().title) == ("heating", "Letting the water cool")
    s.tick(now_s=21, water_c=38.0, estimate_c=38.2)
    assert s.snapshot().phase == "ready"


def test_a_dropout_restarts_the_settling():
    s = start()
    s.confirm(now_s=0)
    for t in range(0, 8):
        s.tick(now_s=t, water_c=38.0)
    s.tick(now_s=8, water_c=None)
    for t in range(9, 19):
        s.tick(now_s=t, water_c=38.0)
        assert s.snapshot().phase == "heating"
    s.tick(now_s=19, water_c=38.0)
    assert s.snapshot().phase == "ready"


@pytest.mark.parametrize("water_c", [37.0, 39.0, 38.0])
def test_the_soak_counts_on_the_edge_of_the_band(water_c):
    s = soaking()
    s.tick(now_s=1, water_c=water_c)
    s.tick(now_s=11, water_c=water_c)
    snap = s.snapshot()
    assert (snap.remaining_s, snap.paused, snap.pause_reason) == (109, False, None)


def test_only_the_soak_waits_for_the_water():
    s = at_strokes_left()
    s.tick(now_s=10, water_c=None)
    s.tick(now_s=20, water_c=None)
    snap = s.snapshot()
    assert (snap.remaining_s, snap.paused, snap.pause_reason, snap.heat_wanted) == (10, False, None, False)


def test_per_foot_steps_run_left_then_right_and_other_steps_have_no_foot():
    s = at_strokes_left()
    seen = []
    for now_s in range(0, 90, 5):
        s.tick(now_s=now_s, water_c=38.0)
        snap = s.snapshot()
        seen.append((snap.title, snap.foot))
    assert list(dict.fromkeys(seen)) == [
        ("Strokes", "left"), ("Strokes", "right"), ("Rest", None), ("All done", None)]


def test_the_rep_counter_follows_the_pace():
    s = at_strokes_left()
    for now_s, rep in ((0, 1), (9.999, 1), (10, 2), (19.5, 2), (20, 3), (29.99, 3)):
        s.tick(now_s=now_s, water_c=38.0)
        snap = s.snapshot()
        assert (snap.rep, snap.reps) == (rep, 3), now_s
    s.tick(now_s=30, water_c=38.0)
    snap = s.snapshot()
    assert (snap.foot, snap.rep, snap.reps) == ("right", 1, 3)


def test_a_prompt_step_waits_for_the_tap():
    s = soaking()
    s.tick(now_s=120, water_c=38.0)
    s.tick(now_s=10_000, water_c=38.0)
    snap = s.snapshot()
    assert (snap.title, snap.waiting_for_tap, snap.remaining_s, snap.paused) == ("Dry", True, None, False)
    s.confirm(now_s=10_000)
    assert s.snapshot().remaining_s == 30  # the wait at the prompt is not taken from the next step


# -- profiles -----------------------------------------------------------------------------


def test_the_gentle_profile_caps_the_water_the_soak_and_the_vibration():
    s = soaking(profile=GENTLE, target_c=39.5, duration_s=1500)
    snap = s.snapshot()
    assert (snap.profile, snap.target_c, snap.remaining_s, snap.vibration_pct) == (GENTLE, 37.0, 600, 30)
    assert snap.session_remaining_s == 600 + 30 + 30 + 30 + 20
    s.next(now_s=0)
    s.confirm(now_s=0)
    assert s.snapshot().vibration_pct == 30  # the step asks for 80 %

    s = soaking(profile=STANDARD, target_c=39.5, duration_s=1500)
    snap = s.snapshot()
    assert (snap.profile, snap.target_c, snap.remaining_s, snap.vibration_pct) == (STANDARD, 39.5, 1500, 50)


def test_the_gentle_profile_keeps_a_cooler_target_and_a_shorter_soak():
    snap = soaking(profile=GENTLE, target_c=36.0, duration_s=300).snapshot()
    assert (snap.target_c, snap.remaining_s) == (36.0, 300)


def test_the_gentle_profile_waits_for_its_own_target():
    s = start(profile=GENTLE, target_c=39.5)
    s.confirm(now_s=0)
    s.tick(now_s=1, water_c=39.5)  # warm enough for the routine, too warm for this customer
    assert (s.snapshot().phase, s.snapshot().title) == ("heating", "Letting the water cool")
    settle(s, 40, 37.2)
    assert s.snapshot().phase == "ready"


def test_an_unknown_profile_is_refused():
    with pytest.raises(SessionError, match="unknown profile 'hot'; use standard or gentle"):
        Session.start(routine(), profile="hot", now_s=0)


def test_session_errors_belong_to_the_routines_error_root():
    assert issubclass(SessionError, RoutineError)
    assert issubclass(SessionError, ValueError)


# -- events -------------------------------------------------------------------------------


def test_pause_holds_the_countdown_until_resume():
    s = at_strokes_left()
    s.tick(now_s=5, water_c=38.0)
    s.pause(now_s=5)
    s.tick(now_s=500, water_c=38.0)
    snap = s.snapshot()
    assert (snap.remaining_s, snap.paused, snap.pause_reason, snap.rep) == (25, True, "user", 1)
    s.resume(now_s=500)
    s.tick(now_s=510, water_c=38.0)
    snap = s.snapshot()
    assert (snap.remaining_s, snap.paused, snap.pause_reason) == (15, False, None)


def test_a_pause_by_the_customer_shows_before_the_water():
    s = soaking()
    s.tick(now_s=10, water_c=35.0)
    s.pause(now_s=10)
    assert s.snapshot().pause_reason == "user"
    s.resume(now_s=20)
    assert s.snapshot().pause_reason == "water_cold"
    assert s.snapshot().remaining_s == 110


def test_next_skips_the_soak_a_prompt_and_a_step_and_ends_after_the_last():
    s = soaking()
    s.pause(now_s=3)
    s.next(now_s=5)
    snap = s.snapshot()
    assert (snap.title, snap.paused, snap.progress) == ("Dry", False, pytest.approx(120 / 230))
    s.next(now_s=6)  # on a prompt, Next does what the tap does
    assert s.snapshot().foot == "left"
    s.pause(now_s=6)
    s.next(now_s=7)
    snap = s.snapshot()
    assert (snap.foot, snap.remaining_s, snap.paused) == ("right", 30, False)
    s.next(now_s=8)
    assert s.snapshot().title == "Rest"
    s.next(now_s=9)
    assert s.snapshot().phase == "done"


def test_back_restarts_the_step_or_foot_before():
    s = at_strokes_left()
    s.tick(now_s=30, water_c=38.0)
    s.tick(now_s=42, water_c=38.0)
    assert (s.snapshot().foot, s.snapshot().remaining_s) == ("right", 18)
    s.back(now_s=42)
    snap = s.snapshot()
    assert (snap.foot, snap.remaining_s, snap.rep) == ("left", 30, 1)
    s.back(now_s=43)
    assert s.snapshot().title == "Dry"
    with pytest.raises(SessionError, match="cannot back while steps: there is no earlier step"):
        s.back(now_s=44)  # the soak is over: there is no going back into it

    s = at_strokes_left()
    s.next(now_s=0)
    s.next(now_s=0)
    s.pause(now_s=0)
    s.back(now_s=1)
    snap = s.snapshot()
    assert (snap.title, snap.foot, snap.remaining_s, snap.paused) == ("Strokes", "right", 30, False)


def test_back_is_refused_on_the_first_step():
    s = soaking(TIMED_FIRST)
    s.tick(now_s=125, water_c=39.5)
    assert s.snapshot().title == "Rest"
    with pytest.raises(SessionError):
        s.back(now_s=125)


def test_extend_adds_a_minute_to_the_soak():
    s = soaking()
    s.tick(now_s=20, water_c=38.0)
    s.extend(now_s=20)
    snap = s.snapshot()
    assert (snap.remaining_s, snap.session_remaining_s) == (160, 270)
    assert snap.progress == pytest.approx(20 / 290)
    s.extend(now_s=20, seconds=1.5)
    assert s.snapshot().remaining_s == 161.5


@pytest.mark.parametrize(("profile", "duration_s", "longest"), [
    (STANDARD, 1780, "30 min"), (GENTLE, 590, "10 min")])
def test_extending_the_soak_stops_at_its_longest(profile, duration_s, longest):
    s = soaking(profile=profile, duration_s=duration_s)
    s.extend(now_s=0)
    cap = 1800 if profile == STANDARD else 600
    assert s.snapshot().remaining_s == cap
    before = s.snapshot()
    refusal = rf"^cannot extend while soaking: it is already at its longest \({longest}\)"
    with pytest.raises(SessionError, match=refusal):
        s.extend(now_s=0)
    assert s.snapshot() == before


def test_a_paced_step_grows_by_whole_repetitions_up_to_the_step_limit():
    s = at_strokes_left()
    s.tick(now_s=12, water_c=38.0)
    s.extend(now_s=12, seconds=15)  # 15 s is a rep and a half: two whole reps are added
    snap = s.snapshot()
    assert (snap.remaining_s, snap.rep, snap.reps) == (38, 2, 5)
    s.extend(now_s=12, seconds=100_000)
    assert (s.snapshot().remaining_s, s.snapshot().reps) == (888, 90)
    with pytest.raises(SessionError, match="already at its longest"):
        s.extend(now_s=12)
    s.next(now_s=12)
    assert s.snapshot().remaining_s == 30  # the other foot keeps its own length


def test_a_paced_step_never_grows_past_its_last_whole_repetition():
    knead = Step(title="Knead", say="Knead the sole.", reps=2, rep_s=7.0)
    r = Routine("knead", "Knead", "One paced step.", Soak(target_c=38.0, duration_s=60), (knead,))
    s = Session.start(r, now_s=0)
    s.confirm(now_s=0)
    settle(s, 20, 38.0)
    s.confirm(now_s=20)
    s.next(now_s=20)
    s.extend(now_s=20, seconds=1)
    assert (s.snapshot().remaining_s, s.snapshot().reps) == (21, 3)
    s.extend(now_s=20, seconds=5000)
    assert (s.snapshot().remaining_s, s.snapshot().reps) == (896, 128)  # 900 s would be 128.6 reps


def test_a_timed_step_is_extended_up_to_the_step_limit():
    s = at_strokes_left()
    s.next(now_s=0)
    s.next(now_s=0)
    s.extend(now_s=0)
    assert s.snapshot().remaining_s == 80
    s.extend(now_s=0, seconds=10_000)
    assert s.snapshot().remaining_s == 900
    with pytest.raises(SessionError, match=r"already at its longest \(15 min\)"):
        s.extend(now_s=0)


@pytest.mark.parametrize("seconds", [0, -60, math.nan, math.inf, "60", None])
def test_extend_by_a_bad_amount_is_refused_and_changes_nothing(seconds):
    s = soaking()
    before = s.snapshot()
    with pytest.raises(SessionError, match="give a positive number of seconds"):
        s.extend(now_s=0, seconds=seconds)
    assert s.snapshot() == before


@pytest.mark.parametrize("where", ["fill", "heating", "ready", "soaking", "prompt", "timed", "fault"])
def test_stop_ends_the_session_from_any_phase_and_wants_no_heat(where):
    s, now_s = PLACES[where]()
    s.stop(now_s=now_s)
    snap = s.snapshot()
    assert (snap.phase, snap.title, snap.heat_wanted, snap.paused) == ("stopped", "Stopped", False, False)
    assert (snap.remaining_s, snap.session_remaining_s, snap.step_index, snap.foot) == (None, 0, None, None)
    assert (snap.bubbles, snap.vibration_pct, snap.waiting_for_tap) == (False, 0, False)


@pytest.mark.parametrize("where", ["fill", "heating", "ready", "soaking", "soaking_paused", "prompt",
                                   "timed"])
def test_a_fault_stops_everything_and_asks_for_staff(where):
    s, now_s = PLACES[where]()
    s.fault(now_s=now_s, code="sensor_lost", message="No temperature reading for 5 s. Check the probe.")
    snap = s.snapshot()
    assert (snap.phase, snap.title, snap.text) == (
        "fault", "Please call staff", "No temperature reading for 5 s. Check the probe.")
    assert (snap.fault_code, snap.heat_wanted, snap.paused) == ("sensor_lost", False, False)
    assert snap.remaining_s is None
    assert (snap.bubbles, snap.vibration_pct, snap.waiting_for_tap) == (False, 0, False)
    s.stop(now_s=now_s)
    snap = s.snapshot()
    assert (snap.phase, snap.fault_code) == ("stopped", "sensor_lost")  # the cause stays on record


def test_a_fault_without_words_shows_an_empty_text():
    s = soaking()
    s.fault(now_s=0, code="x", message="")
    assert s.snapshot().text == ""


def test_the_soak_text_is_the_additives_when_there_are_some():
    assert soaking(TIMED_FIRST).snapshot().text == "A spoon of salt."


# -- refused events -----------------------------------------------------------------------

FAULT_ARGS = {"code": "probe", "message": "Check the probe."}
EVENTS = {
    "confirm": lambda s, t: s.confirm(now_s=t),
    "pause": lambda s, t: s.pause(now_s=t),
    "resume": lambda s, t: s.resume(now_s=t),
    "next": lambda s, t: s.next(now_s=t),
    "back": lambda s, t: s.back(now_s=t),
    "extend": lambda s, t: s.extend(now_s=t),
    "stop": lambda s, t: s.stop(now_s=t),
    "fault": lambda s, t: s.fault(now_s=t, **FAULT_ARGS),
}


def _fill():
    return start(now_s=0), 0


def _heating():
    s, t = _fill()
    s.confirm(now_s=t)
    return s, t


def _ready():
    s, t = _heating()
    settle(s, t + 20, 38.0)
    return s, t + 20


def _soaking():
    s = soaking()
    s.tick(now_s=10, water_c=38.0)
    return s, 10


def _soaking_paused():
    s, t = _soaking()
    s.pause(now_s=t)
    return s, t


def _prompt():
    s, t = _soaking()
    s.next(now_s=t)
    return s, t


def _timed():  # the left foot of Strokes, a stage after the prompt, so Back is allowed
    s, t = _prompt()
    s.confirm(now_s=t)
    s.tick(now_s=t + 5, water_c=38.0)
    return s, t + 5


def _timed_paused():
    s, t = _timed()
    s.pause(now_s=t)
    return s, t


def _done():
    s, t = _timed()
    s.tick(now_s=t + 1000, water_c=38.0)
    return s, t + 1000


def _stopped():
    s, t = _soaking()
    s.stop(now_s=t)
    return s, t


def _fault():
    s, t = _soaking()
    s.fault(now_s=t, **FAULT_ARGS)
    return s, t


def _fault_after_pause():
    s, t = _timed_paused()
    s.fault(now_s=t, **FAULT_ARGS)
    return s, t


PLACES = {
    "fill": _fill, "heating": _heating, "ready": _ready, "soaking": _soaking,
    "soaking_paused": _soaking_paused, "prompt": _prompt, "timed": _timed, "timed_paused": _timed_paused,
    "done": _done, "stopped": _stopped, "fault": _fault, "fault_after_pause": _fault_after_pause,
}

# Where each accepted event leads; every other event is refused there.
ACCEPTED = {
    "fill": {"confirm": "heating", "stop": "stopped", "fault": "fault"},
    "heating": {"stop": "stopped", "fault": "fault"},
    "ready": {"confirm": "soaking", "stop": "stopped", "fault": "fault"},
    "soaking": {"pause": "soaking", "next": "steps", "extend": "soaking", "stop": "stopped",
                "fault": "fault"},
    "soaking_paused": {"resume": "soaking", "next": "steps", "extend": "soaking", "stop": "stopped",
                       "fault": "fault"},
    "prompt": {"confirm": "steps", "next": "steps", "stop": "stopped", "fault": "fault"},
    "timed": {"pause": "steps", "next": "steps", "back": "steps", "extend": "steps", "stop": "stopped",
              "fault": "fault"},
    "timed_paused": {"resume": "steps", "next": "steps", "back": "steps", "extend": "steps",
                     "stop": "stopped", "fault": "fault"},
    "done": {},
    "stopped": {},
    "fault": {"stop": "stopped"},
    "fault_after_pause": {"stop": "stopped"},
}
REFUSED = [(where, event) for where in PLACES for event in EVENTS if event not in ACCEPTED[where]]


def test_the_places_are_where_they_say():
    for where, build in PLACES.items():
        phase = build()[0].snapshot().phase
        assert phase == where.split("_")[0].replace("prompt", "steps").replace("timed", "steps"), where


@pytest.mark.parametrize(("where", "event"), REFUSED)
def test_an_event_that_makes_no_sense_is_refused_and_changes_nothing(where, event):
    s, now_s = PLACES[where]()
    before = s.snapshot()
    with pytest.raises(SessionError, match=f"^cannot {event} while {before.phase}: "):
        EVENTS[event](s, now_s)
    assert s.snapshot() == before
    s.tick(now_s=now_s + 1, water_c=38.0)  # and the session carries on as if it never came
    twin, _ = PLACES[where]()
    twin.tick(now_s=now_s + 1, water_c=38.0)
    assert s.snapshot() == twin.snapshot()


@pytest.mark.parametrize(("where", "event"), [(w, e) for w in ACCEPTED for e in ACCEPTED[w]])
def test_an_accepted_event_does_something(where, event):
    s, now_s = PLACES[where]()
    before = s.snapshot()
    EVENTS[event](s, now_s)
    after = s.snapshot()
    assert after.phase == ACCEPTED[where][event]
    assert after != before


def test_resume_after_a_fault_is_refused_even_if_the_step_was_paused():
    s, now_s = _fault_after_pause()
    assert s.snapshot().paused is False
    with pytest.raises(SessionError, match="cannot resume while fault"):
        s.resume(now_s=now_s)


# -- taps that cross the end of a countdown -----------------------------------------------


def test_next_as_a_countdown_runs_out_does_not_skip_the_step_after_it():
    s = at_strokes_left(now_s=1000)
    s.next(now_s=1030.5)  # the left foot ran out half a second ago: that is the step Next was for
    snap = s.snapshot()
    assert (snap.title, snap.foot, snap.remaining_s) == ("Strokes", "right", 29.5)


def test_next_as_the_last_step_runs_out_ends_the_session_without_an_error():
    s = at_strokes_left()
    s.next(now_s=0)
    s.next(now_s=0)
    s.next(now_s=25)  # Rest ran out at 20
    assert s.snapshot().phase == "done"


def test_back_as_a_countdown_runs_out_goes_back_from_the_step_on_screen():
    s = at_strokes_left()
    s.next(now_s=0)
    s.back(now_s=31)  # the right foot ran out at 30; the customer meant the left foot
    snap = s.snapshot()
    assert (snap.title, snap.foot, snap.remaining_s) == ("Strokes", "left", 30)


def test_back_as_the_last_step_runs_out_is_refused_because_the_session_is_over():
    s = at_strokes_left()
    s.next(now_s=0)
    s.next(now_s=0)
    with pytest.raises(SessionError, match="cannot back while done"):
        s.back(now_s=25)


def test_extend_as_the_countdown_runs_out_does_not_lengthen_the_step_after_it():
    s = soaking(TIMED_FIRST)
    with pytest.raises(SessionError, match=r"^cannot extend while steps: the countdown on screen has just"):
        s.extend(now_s=120.5)
    snap = s.snapshot()
    assert (snap.title, snap.remaining_s) == ("Rest", 19.5)


def test_confirm_as_a_countdown_runs_out_does_not_answer_the_prompt_after_it():
    s = soaking()
    with pytest.raises(SessionError, match=r"^cannot confirm while steps: the step on screen has just ended"):
        s.confirm(now_s=120.5)
    assert (s.snapshot().title, s.snapshot().waiting_for_tap) == ("Dry", True)
    s.confirm(now_s=121)  # now the customer has seen the prompt
    assert s.snapshot().foot == "left"


def test_stop_as_the_last_step_runs_out_leaves_the_session_done_without_an_error():
    s = at_strokes_left()
    s.next(now_s=0)
    s.next(now_s=0)
    s.stop(now_s=25)
    snap = s.snapshot()
    assert (snap.phase, snap.heat_wanted) == ("done", False)
    with pytest.raises(SessionError, match=r"^cannot stop while done: the session has already ended"):
        s.stop(now_s=26)


def test_a_fault_as_the_last_step_runs_out_is_refused_because_the_session_is_over():
    s = at_strokes_left()
    s.next(now_s=0)
    s.next(now_s=0)
    with pytest.raises(SessionError, match=r"^cannot fault while done"):
        s.fault(now_s=25, **FAULT_ARGS)
    assert s.snapshot().phase == "done"


# -- time -----------------------------------------------------------------------------------


def test_a_half_hour_soak_runs_second_by_second():
    s = soaking(duration_s=1800)
    for now_s in range(1, 1800):
        s.tick(now_s=now_s, water_c=38.0)
    assert s.snapshot().remaining_s == 1
    s.tick(now_s=1800, water_c=38.0)
    assert s.snapshot().title == "Dry"


def test_a_big_tick_carries_over_across_stages_and_stops_at_a_prompt():
    s = soaking(TIMED_FIRST)
    s.tick(now_s=175, water_c=39.5)  # soak 120 + Rest 20 + left foot 30 + 5 s of the right foot
    snap = s.snapshot()
    assert (snap.title, snap.foot, snap.remaining_s, snap.session_remaining_s) == ("Strokes", "right", 25, 55)
    s.tick(now_s=1e9, water_c=39.5)
    snap = s.snapshot()
    assert (snap.phase, snap.title, snap.waiting_for_tap) == ("steps", "Dry", True)
    assert snap.session_remaining_s == 30
    s.confirm(now_s=1e9)
    assert s.snapshot().phase == "done"


def test_a_big_tick_while_the_water_is_cold_counts_nothing():
    s = soaking(TIMED_FIRST)
    s.tick(now_s=0, water_c=30.0)
    s.tick(now_s=1e6, water_c=39.5)
    assert s.snapshot().remaining_s == 120


def test_a_clock_going_backwards_stands_still_then_runs_on():
    s = soaking(now_s=100)
    s.tick(now_s=150, water_c=38.0)
    assert s.snapshot().remaining_s == 70
    s.tick(now_s=40, water_c=38.0)
    assert s.snapshot().remaining_s == 70
    s.tick(now_s=50, water_c=38.0)  # the countdown does not freeze until the clock is back at 150
    assert s.snapshot().remaining_s == 60
    s.pause(now_s=-1e9)
    s.resume(now_s=-1e9 + 5)
    s.tick(now_s=-1e9 + 15, water_c=38.0)
    assert s.snapshot().remaining_s == 50


def test_extreme_clock_readings_never_show_negative_or_endless_time():
    s = soaking(TIMED_FIRST)
    s.tick(now_s=-1.7e308, water_c=39.5)
    s.tick(now_s=1.7e308, water_c=39.5)  # the step between them does not fit in a float
    snap = s.snapshot()
    assert (snap.title, snap.remaining_s, snap.session_remaining_s) == ("Dry", None, 30)


BAD_TIMES = [math.nan, math.inf, -math.inf, None, "10"]


@pytest.mark.parametrize("now_s", BAD_TIMES)
@pytest.mark.parametrize("event", [*EVENTS, "tick"])
def test_a_clock_reading_that_is_not_a_finite_number_is_refused(event, now_s):
    s, _ = _timed()
    before = s.snapshot()
    with pytest.raises(SessionError, match="now_s must be a finite number of seconds"):
        if event == "tick":
            s.tick(now_s=now_s, water_c=38.0)
        else:
            EVENTS[event](s, now_s)
    assert s.snapshot() == before


@pytest.mark.parametrize("now_s", BAD_TIMES)
def test_a_session_cannot_start_at_a_time_that_is_not_a_finite_number(now_s):
    with pytest.raises(SessionError, match="now_s must be a finite number of seconds"):
        Session.start(routine(), now_s=now_s)
