"""The routines shipped as package data (issue 2, section 2): valid, safe and well written."""

import re

import pytest

from routines import model as m
from routines.library import shipped_documents
from routines.schema import parse_routine

DOCUMENTS = dict(shipped_documents())
ROUTINES = {name: parse_routine(data, name) for name, data in DOCUMENTS.items()}
BY_ID = {r.id: r for r in ROUTINES.values()}

# The screen names the foot ("Left foot", "Right foot") and repeats a per-foot step for each,
# so its words must fit either foot; and the customer does the massage on their own feet.
NAMES_A_FOOT = re.compile(r"\b(left|right|both feet|each foot|other foot|second foot|one foot)\b", re.I)
NOT_FOR_THE_CUSTOMER = re.compile(
    r"\b(client|customer|patient|guest|therapist|their|his|her|the person|I|we|my|our)\b", re.I)


def test_at_least_the_four_named_routines_ship():
    assert {"classic", "evening", "gentle", "quick"} <= set(BY_ID)
    assert len(BY_ID) == len(DOCUMENTS) >= 4


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_each_shipped_file_is_valid_and_named_after_its_id(name):
    routine = ROUTINES[name]
    assert name == f"{routine.id}.yaml"
    assert parse_routine(DOCUMENTS[name].decode(), name) == routine  # bytes or text alike


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_each_shipped_routine_is_within_spa_practice(name):
    routine = ROUTINES[name]
    assert 36.0 <= routine.soak.target_c <= m.CEILING_C  # safe water: soak 36-40 C
    assert 5 * 60 <= routine.soak.duration_s <= 15 * 60  # typical soak: 10-15 min, quick ones shorter
    assert routine.length_s <= 30 * 60


def test_gentle_is_within_the_gentle_limits():
    gentle = BY_ID["gentle"]
    assert gentle.soak.target_c <= m.GENTLE_TARGET_C == 37.0
    assert gentle.soak.duration_s <= m.GENTLE_SOAK_MAX_S == 600
    assert gentle.soak.vibration_pct <= m.GENTLE_VIBRATION_MAX_PCT == 30
    assert all(step.vibration_pct <= m.GENTLE_VIBRATION_MAX_PCT for step in gentle.steps)
    # Light touch only: no deep-pressure techniques for sensitive feet.
    deep = {"knuckle_knead", "arch_press", "thumb_walk", "sole_thumb_roll"}
    assert not {step.illustration for step in gentle.steps} & deep


def test_quick_has_a_short_soak_and_three_steps():
    quick = BY_ID["quick"]
    assert quick.soak.duration_s <= 300
    assert quick.soak.duration_s < min(r.soak.duration_s for r in BY_ID.values() if r.id != "quick")
    assert len(quick.steps) == 3
    assert quick.length_s < min(r.length_s for r in BY_ID.values() if r.id != "quick")


PER_FOOT = [(r.id, i, s) for r in BY_ID.values() for i, s in enumerate(r.steps, 1) if s.per_foot]


def test_most_shipped_steps_are_per_foot():
    assert len(PER_FOOT) >= 8


@pytest.mark.parametrize(("rid", "number", "step"), PER_FOOT, ids=[f"{r}-{n}" for r, n, _ in PER_FOOT])
def test_every_per_foot_step_is_written_for_the_person_doing_it(rid, number, step):
    text = f"{step.title}. {step.say}"
    assert not NAMES_A_FOOT.search(text), "the screen says which foot; the text must fit either"
    assert not NOT_FOR_THE_CUSTOMER.search(text), "the customer massages their own foot: speak to them"


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_every_shipped_step_has_an_illustration_and_prompts_say_how_to_go_on(name):
    for step in ROUTINES[name].steps:
        assert step.illustration in m.ILLUSTRATIONS
        if step.wait_for_tap:
            assert "Tap Next" in step.say


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_shipped_files_are_plain_utf8_with_unix_line_ends(name):
    data = DOCUMENTS[name]
    data.decode("utf-8")
    assert b"\r" not in data and b"\t" not in data and not data.startswith(b"\xef\xbb\xbf")
