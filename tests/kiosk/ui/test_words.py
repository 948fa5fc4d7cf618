"""What the screens say (kiosk.ui.words, pure): plain words for every fault the bath can report,
why a countdown waits, temperatures, countdowns and the other sentences built from a status."""

from __future__ import annotations

import pytest

from hardware import reading, safety
from kiosk.ui import words as w
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
STAFF_ONLY = ("_", "CRC", "1-Wire", "GPIO", "pull-up", "mains", "supervisor", "probe", "sensor")


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


def test_the_issue_s_example_of_a_thermometer_fault():
    assert w.fault_words(reading.MISSING) == ("The heater is off: the thermometer stopped answering. "
                                               "Take your feet out and call staff.")


def test_an_unknown_fault_still_says_the_heater_is_off_and_to_call_staff():
    assert w.fault_words("something_new") == w.fault_words(None) == "The heater is off. Please call staff."


def test_every_reason_a_countdown_waits_is_told_and_a_running_one_says_nothing():
    told = {reason: w.pause_words(reason) for reason in (USER, WATER_COLD, WATER_HOT, NO_READING)}
    assert all(told.values()) and len(set(told.values())) == 4
    assert "Resume" in told[USER]
    assert w.pause_words(None) == ""


@pytest.mark.parametrize(("value", "shown"), [
    (None, "--.-"), (38.0, "38.0"), (37.96, "38.0"), (36.94, "36.9"), (8.0, "8.0"), (40.04, "40.0")])
def test_temperatures_have_one_decimal_and_a_unit_that_never_wraps_away(value, shown):
    assert w.temperature(value) == f"{shown}{NBSP}°C"


@pytest.mark.parametrize(("seconds", "shown"), [
    (None, ""), (600, "10:00"), (599.2, "10:00"), (545, "9:05"), (42, "0:42"), (0.2, "0:01"), (0, "0:00"),
    (-1.5, "0:00"), (1800, "30:00")])
def test_countdowns_read_as_minutes_and_seconds_rounded_up(seconds, shown):
    assert w.minutes(seconds) == shown


def test_warming_words_follow_the_estimate_and_the_water():
    base = {"water_c": 30.0, "target_c": 38.0}
    assert w.warming_words({**base, "warm_eta_s": None}) == "Warming the water"
    assert w.warming_words({**base, "warm_eta_s": 0.0}) == "Almost ready"
    assert "about 7 min" in w.warming_words({**base, "warm_eta_s": 410.0})
    assert "about 1 min" in w.warming_words({**base, "warm_eta_s": 20.0})
    too_warm = w.warming_words({"water_c": 39.0, "target_c": 38.0, "warm_eta_s": 0.0})
    assert "too warm" in too_warm and "cool" in too_warm


def test_the_ready_sentence_names_the_water_temperature():
    said = w.ready_words({"water_c": 37.96, "target_c": 38.0})
    assert said == f"The water is at 38.0{NBSP}°C. Put your feet in, then tap Start."
    assert w.ready_words({"water_c": None, "target_c": 37.0}).startswith(f"The water is at 37.0{NBSP}°C.")


def test_the_home_line_about_the_water():
    assert w.home_state({"water_c": 36.0, "cleaning_needed": False}) == "Ready when you are"
    assert "staff" in w.home_state({"water_c": 36.0, "cleaning_needed": True})
    checking = w.home_state({"water_c": None, "cleaning_needed": False})
    assert checking and checking != "Ready when you are"


def test_the_step_lines():
    session = {"step_index": 1, "step_count": 4, "rep": 3, "reps": 6}
    assert w.step_counter(session) == "Step 2 of 4"
    assert w.rep_words(session) == "3 of 6"
    assert w.foot_words("left") == "Left foot" and w.foot_words("right") == "Right foot"
    assert w.foot_words(None) == ""
    assert w.next_words("Arch press") == "Next: Arch press"
    assert w.next_words(None) and "Next: " not in w.next_words(None)


def test_the_summary_names_the_routine_and_what_happens_next():
    title, text = w.done_words({"session": {"routine_name": "Quick refresh"}})
    assert title == "All done. Thank you!"
    assert text.startswith("Quick refresh is finished.")
    assert "Dry your feet" in text and "Staff will clean the basin" in text
    _, without = w.done_words({"session": None})
    assert "None" not in without and "Dry your feet" in without


@pytest.mark.parametrize(("seconds", "shown"),
                         [(1260, "21 min"), (20, "1 min"), (89, "1 min"), (91, "2 min")])
def test_routine_lengths_in_whole_minutes(seconds, shown):
    assert w.length_words(seconds) == shown
