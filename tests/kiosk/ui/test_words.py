"""What the screens say (kiosk.ui.words, pure: no window): plain words for every fault the bath
can report, why a countdown waits, temperatures, countdowns and the other sentences built from a
status, in English and German."""

from __future__ import annotations

import inspect

import pytest

from hardware import reading, safety
from kiosk.ui import words as w
from kiosk.ui.i18n import use_language
from routines.runner import NO_READING, USER, WATER_COLD, WATER_HOT

NBSP = "\u00a0"
# Every code the controller can put in status["faults"]: the thermometer's own (hardware.reading)
# and the supervisor's (hardware.safety).
SAFETY_CODES = (safety.OVERHEAT, safety.NOT_HEATING, safety.RELAY_STUCK, safety.PROBE_OUT,
                safety.BASIN_EMPTY, safety.HEATER_TIME, safety.SENSOR_STALE, safety.SENSOR_FROZEN)
FAULT_CODES = sorted(set(reading.MESSAGES) | set(safety.MESSAGES) | set(SAFETY_CODES))
# The water may be too hot, or nobody knows how warm it is: feet out first.
FEET_OUT = {safety.OVERHEAT, safety.RELAY_STUCK, safety.SENSOR_STALE, safety.SENSOR_FROZEN,
            *reading.MESSAGES}
STAFF_ONLY = ("_", "CRC", "1-Wire", "GPIO", "pull-up", "mains", "supervisor", "probe", "sensor", "relay")
PAUSE_REASONS = (USER, WATER_COLD, WATER_HOT, NO_READING)


@pytest.fixture
def german():
    use_language("de")
    yield
    use_language("en")


def session(**overrides) -> dict:
    base = {"phase": "steps", "step_index": 0, "step_count": 4, "rep": 2, "reps": 5, "foot": "left",
            "routine_name": "Classic soak and massage", "remaining_s": 40.0}
    return base | overrides


# -- faults ---------------------------------------------------------------------------------------

def test_every_thermometer_code_is_a_fault_code_here():
    codes = {value for name, value in vars(reading).items() if name.isupper() and isinstance(value, str)
             and value.startswith("sensor_")}
    assert codes <= set(FAULT_CODES) and len(codes) == 8


@pytest.mark.parametrize("code", FAULT_CODES)
def test_every_fault_has_its_own_plain_words_saying_what_to_do(code):
    words = w.fault_words(code)
    assert words != w.fault_words(None), f"{code} falls back to the words for an unknown fault"
    assert "call staff" in words
    assert words != safety.MESSAGES.get(code), "the staff's technical message is not for customers"
    assert code not in words and not any(c.isdigit() for c in words)
    assert not [part for part in STAFF_ONLY if part in words], words
    if code in FEET_OUT:
        assert "feet out" in words, f"{code}: the customer is not told to take their feet out"
    if code != safety.RELAY_STUCK:  # with a stuck relay the element may be powered whatever we do
        assert words.startswith("The heater is off"), words


def test_a_thermometer_fault_says_what_the_issue_says():
    assert w.fault_words(reading.MISSING) == ("The heater is off: the thermometer stopped answering. "
                                              "Take your feet out and call staff.")
    assert {w.fault_words(code) for code in w.THERMOMETER_CODES} == {w.fault_words(reading.MISSING)}


@pytest.mark.parametrize("code", [safety.OVERHEAT, safety.RELAY_STUCK])
def test_when_the_water_may_be_too_hot_feet_come_out_now(code):
    assert "Take your feet out now" in w.fault_words(code)


def test_an_unknown_or_missing_fault_still_says_the_heater_is_off_and_to_call_staff():
    assert w.fault_words(None) == w.fault_words("new_code") == "The heater is off. Please call staff."


# -- pauses, temperatures and times ----------------------------------------------------------------

def test_every_reason_a_countdown_waits_is_told_and_a_running_one_says_nothing():
    told = {reason: w.pause_words(reason) for reason in PAUSE_REASONS}
    assert all(text.endswith(".") for text in told.values()) and len(set(told.values())) == 4
    assert told[USER] == "Paused. Tap Resume when you are ready."
    assert "countdown waits" in told[WATER_COLD] and "too warm" in told[WATER_HOT]
    assert w.pause_words(None) == ""


@pytest.mark.parametrize(("value", "shown"), [
    (None, "--.-"), (38.0, "38.0"), (37.96, "38.0"), (36.94, "36.9"), (36.44, "36.4"), (8.0, "8.0"),
    (40.04, "40.0")])
def test_temperatures_have_one_decimal_and_a_unit_that_never_wraps_away(value, shown):
    assert w.temperature(value) == f"{shown}{NBSP}°C"


def test_german_writes_a_decimal_comma(german):
    assert w.temperature(38.5) == f"38,5{NBSP}°C"
    assert w.temperature(None) == f"--,-{NBSP}°C"


@pytest.mark.parametrize(("seconds", "shown"), [
    (None, ""), (600, "10:00"), (599.2, "10:00"), (545, "9:05"), (42, "0:42"), (0.2, "0:01"), (0, "0:00"),
    (-1.5, "0:00"), (59.01, "1:00"), (1800, "30:00"), (3600, "60:00")])
def test_countdowns_read_as_minutes_and_seconds_rounded_up(seconds, shown):
    # Rounded up: "0:00" only when the time is really over.
    assert w.minutes(seconds) == shown


@pytest.mark.parametrize(("seconds", "shown"), [
    (0, "about 1 min"), (30, "about 1 min"), (89, "about 1 min"), (91, "about 2 min"), (600, "about 10 min")])
def test_about_minutes_never_says_zero(seconds, shown):
    assert w.about_minutes(seconds) == shown


@pytest.mark.parametrize(("seconds", "shown"),
                         [(1260, "21 min"), (20, "1 min"), (89, "1 min"), (91, "2 min"), (600, "10 min"),
                          (870, "14 min")])
def test_routine_lengths_in_whole_minutes(seconds, shown):
    assert w.length_words(seconds) == shown


# -- warming, home and ready ----------------------------------------------------------------------

@pytest.mark.parametrize(("status", "shown"), [
    ({"warm_eta_s": None, "water_c": 30.0, "target_c": 38.0}, "Warming the water"),
    ({"warm_eta_s": 300.0, "water_c": 30.0, "target_c": 38.0}, "Ready in about 5 min"),
    ({"warm_eta_s": 410.0, "water_c": 30.0, "target_c": 38.0}, "Ready in about 7 min"),
    ({"warm_eta_s": 20.0, "water_c": 30.0, "target_c": 38.0}, "Ready in about 1 min"),
    ({"warm_eta_s": 0.0, "water_c": 37.6, "target_c": 38.0}, "Almost ready"),
    ({"warm_eta_s": None, "water_c": 38.6, "target_c": 38.0}, "The water is a little too warm. "
                                                              "It is cooling down."),
    ({"warm_eta_s": 0.0, "water_c": 39.0, "target_c": 38.0}, "The water is a little too warm. "
                                                             "It is cooling down."),
    ({"warm_eta_s": None, "water_c": None, "target_c": 38.0}, "Warming the water"),
])
def test_warming_says_when_the_water_will_be_ready(status, shown):
    assert w.warming_words(status) == shown


def test_the_warming_screen_says_the_water_is_cooling_when_the_session_says_so():
    """The session judges with the heater control's estimate too: a lagging reading of 37.9 C
    may be water at 39 C."""
    hot = {"warm_eta_s": 0.0, "water_c": 37.9, "target_c": 38.0, "session": {"cooling": True}}
    assert w.warming_title(hot) == "Letting the water cool"
    assert w.warming_words(hot) == "The water is a little too warm. It is cooling down."
    warming = {**hot, "session": {"cooling": False}}
    assert (w.warming_title(warming), w.warming_words(warming)) == ("Warming the water", "Almost ready")


@pytest.mark.parametrize(("status", "shown"), [
    ({"cleaning_needed": True, "water_c": 30.0}, "The basin needs cleaning. Please ask staff."),
    ({"cleaning_needed": False, "water_c": None}, "Checking the water"),
    ({"cleaning_needed": False, "water_c": 30.0}, "Ready when you are"),
])
def test_the_home_screen_line(status, shown):
    assert w.home_state(status) == shown


def test_ready_says_the_measured_water_and_what_to_do():
    for water_c in (38.04, 37.96):
        assert w.ready_words({"water_c": water_c, "target_c": 38.0}) == \
            f"The water is at 38.0{NBSP}°C. Put your feet in, then tap Start."
    assert w.ready_words({"water_c": None, "target_c": 37.0}).startswith(f"The water is at 37.0{NBSP}°C.")


# -- steps and the end ------------------------------------------------------------------------------

def test_feet_steps_and_repetitions():
    assert [w.foot_words(foot) for foot in ("left", "right", None)] == ["Left foot", "Right foot", ""]
    assert w.step_counter(session(step_index=0, step_count=4)) == "Step 1 of 4"
    assert w.step_counter(session(step_index=3, step_count=4)) == "Step 4 of 4"
    assert w.rep_words(session(rep=2, reps=5)) == "2 of 5"


def test_the_next_step_or_that_this_is_the_last():
    assert w.next_words("Toe rotation") == "Next: Toe rotation"
    assert w.next_words(None) == w.next_words("") == "This is the last step"


def test_done_names_the_routine_and_says_what_happens_next():
    title, text = w.done_words({"session": session(phase="done")})
    assert title == "All done. Thank you!"
    assert text == ("Classic soak and massage is finished. Dry your feet well, including between "
                    "the toes. Staff will clean the basin for the next guest.")


@pytest.mark.parametrize("status", [{"session": None}, {}, {"session": session(routine_name=None)}])
def test_done_without_a_routine_name_still_reads_well(status):
    _, text = w.done_words(status)
    assert text.startswith("Your foot bath is finished. Dry your feet") and "None" not in text


# -- German ----------------------------------------------------------------------------------------------

def test_the_sentences_in_german(german):
    assert w.step_counter(session(step_index=1, step_count=4)) == "Schritt 2 von 4"
    assert w.rep_words(session(rep=3, reps=5)) == "3 von 5"
    assert w.foot_words("right") == "Rechter Fuß"
    assert w.about_minutes(300) == "etwa 5 Min."
    assert w.warming_words({"warm_eta_s": 60.0, "water_c": 36.0, "target_c": 38.0}) == "Bereit in etwa 1 Min."
    assert w.ready_words({"water_c": 38.0}) == \
        f"Das Wasser hat 38,0{NBSP}°C. Stellen Sie Ihre Füße hinein und tippen Sie dann auf Start."
    assert w.next_words("Toe rotation") == "Als Nächstes: Toe rotation"  # routine titles stay as written
    title, text = w.done_words({"session": session()})
    assert title == "Das war\u2019s. Vielen Dank!"  # a typographic apostrophe
    assert text.startswith("Classic soak and massage ist beendet. Trocknen Sie Ihre Füße gut ab")


@pytest.mark.parametrize("code", FAULT_CODES)
def test_every_fault_in_german_asks_for_staff_politely(german, code):
    assert "Bitte" in w.fault_words(code) and "Personal" in w.fault_words(code)


def test_every_pause_and_home_line_is_german(german):
    english = {"Paused", "water", "countdown", "basin", "Ready"}
    homes = [{"cleaning_needed": c, "water_c": t} for c, t in ((True, 1.0), (False, None), (False, 1.0))]
    texts = [w.pause_words(r) for r in PAUSE_REASONS] + [w.home_state(status) for status in homes]
    assert all(texts) and not any(word in text for text in texts for word in english)


def test_each_function_of_words_is_covered_here():
    functions = {name for name, f in inspect.getmembers(w, inspect.isfunction) if f.__module__ == w.__name__}
    tested = {"fault_words", "pause_words", "temperature", "minutes", "about_minutes", "warming_words",
              "cooling", "warming_title",
              "home_state", "ready_words", "foot_words", "step_counter", "rep_words", "next_words",
              "done_words", "length_words"}
    assert functions == tested, "a new sentence in words.py needs its test here"
