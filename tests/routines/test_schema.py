"""The routine format (issue 2, section 2): the model, and strict, complete, located validation.

Each refusal is asserted as the exact `FILE:LINE:COL: field.path: what is wrong; what is
allowed` line staff will read, so a moved column or a vaguer message fails a test.
"""

import dataclasses

import pytest
import yaml

from routines import model as m
from routines.errors import Problem, RoutineError, SessionError
from routines.model import Routine, Soak, Step, format_duration
from routines.schema import PACE_HELP, ROUTINE_KEYS, SOAK_KEYS, STEP_KEYS, parse_routine

F = "morning.yaml"

VALID = """\
id: morning
name: Morning soak
description: A short warm soak and three steps.
soak:
  target_c: 38.0
  duration_s: 300
  additives: Epsom salts
  bubbles: true
  vibration_pct: 20
steps:
  - title: Feet in
    say: Put your feet in the water.
    wait_for_tap: true
    illustration: feet_in
  - title: Thumb walking
    say: Walk your thumbs along your sole.
    reps: 4
    rep_s: 10
    per_foot: true
    bubbles: true
    vibration_pct: 50
    illustration: thumb_walk
  - title: Rest
    say: Sit back and breathe.
    duration_s: 30
"""

EXPECTED = Routine(
    id="morning", name="Morning soak", description="A short warm soak and three steps.",
    soak=Soak(target_c=38.0, duration_s=300, additives="Epsom salts", bubbles=True, vibration_pct=20),
    steps=(
        Step(title="Feet in", say="Put your feet in the water.", wait_for_tap=True, illustration="feet_in"),
        Step(title="Thumb walking", say="Walk your thumbs along your sole.", reps=4, rep_s=10.0,
             per_foot=True, bubbles=True, vibration_pct=50, illustration="thumb_walk"),
        Step(title="Rest", say="Sit back and breathe.", duration_s=30),
    ),
)


def edit(*changes: tuple[int, str | None]) -> str:
    """VALID with 1-based lines replaced (None deletes the line; text may hold several lines)."""
    lines = VALID.splitlines()
    for number, text in sorted(changes, reverse=True):
        if text is None:
            del lines[number - 1]
        else:
            lines[number - 1] = text
    return "\n".join(lines) + "\n"


def problems(data, **kwargs) -> list[str]:
    with pytest.raises(RoutineError) as caught:
        parse_routine(data, F, **kwargs)
    return [str(p) for p in caught.value.problems]


# --- the model --------------------------------------------------------------------------------

def test_a_valid_document_becomes_frozen_dataclasses():
    routine = parse_routine(VALID, F)
    assert routine == EXPECTED
    assert isinstance(routine.steps, tuple)
    for obj, field in ((routine, "name"), (routine.soak, "target_c"), (routine.steps[0], "title")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, field, None)


def test_yaml_keys_equal_field_names():
    assert tuple(f.name for f in dataclasses.fields(Routine)) == ROUTINE_KEYS
    assert tuple(f.name for f in dataclasses.fields(Soak)) == SOAK_KEYS
    assert set(STEP_KEYS) == {f.name for f in dataclasses.fields(Step)}


def test_a_routine_dumped_by_field_name_reads_back_equal():
    def plain(value):
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items() if v is not None}
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        return value

    text = yaml.safe_dump(plain(dataclasses.asdict(EXPECTED)), sort_keys=False)
    assert parse_routine(text, F) == EXPECTED


def test_defaults_and_lengths():
    routine = parse_routine(edit((7, None), (8, None), (9, None)), F)
    assert routine.soak == Soak(38.0, 300)
    assert (routine.soak.additives, routine.soak.bubbles, routine.soak.vibration_pct) == ("", False, 0)
    prompt, reps, timed = routine.steps
    assert (prompt.foot_s, prompt.length_s) == (m.PROMPT_ESTIMATE_S, m.PROMPT_ESTIMATE_S)
    assert (reps.foot_s, reps.length_s) == (40.0, 80.0)
    assert (timed.foot_s, timed.length_s) == (30.0, 30.0)
    assert routine.length_s == 300 + m.PROMPT_ESTIMATE_S + 80 + 30
    assert Step("t", "s").foot_s == 0.0


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0 s"), (45, "45 s"), (60, "1 min"), (90, "1 min 30 s"), (599.6, "10 min"), (3725, "62 min 5 s")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_errors_are_value_errors_with_sorted_located_problems():
    late, early = Problem(F, 9, 3, "b", "late"), Problem(F, 2, 5, "a", "early")
    error = RoutineError.from_problems([late, early])
    assert error.problems == (early, late)
    assert str(error) == f"{F}:2:5: a: early\n{F}:9:3: b: late"
    assert isinstance(error, ValueError)
    assert issubclass(SessionError, RoutineError)
    assert RoutineError("plain").problems == ()


# --- one pass, exact places -------------------------------------------------------------------

def test_every_problem_is_reported_in_one_pass():
    text = edit(
        (1, "id: Morning Soak"),
        (5, "  target: 38.0"),
        (9, "  vibration_pct: 120"),
        (12, "    say: 12"),
        (18, "    rep_s: fast"),
        (21, "    vibration_pct: -5"),
        (22, "    ilustration: thumb_walk"),
        (25, "    duration_s: true"),
    )
    assert problems(text) == [
        f"{F}:1:5: id: 'Morning Soak' is not allowed; use lower-case letters, digits, - and _, "
        "like 'classic'",
        f"{F}:5:3: soak.target: unknown key; did you mean 'target_c'? allowed keys: target_c, duration_s, "
        "additives, bubbles, vibration_pct",
        f"{F}:5:3: soak.target_c: missing; this key is required",
        f"{F}:9:18: soak.vibration_pct: 120 is out of range; allowed: a whole number from 0 to 100 %",
        f"{F}:12:10: steps[1].say: 12 is not text; write text of 1 to {m.SAY_MAX} characters",
        f"{F}:18:12: steps[2].rep_s: 'fast' is not a number; allowed: a number from 1.0 to 60.0 s",
        f"{F}:21:20: steps[2].vibration_pct: -5 is out of range; allowed: a whole number from 0 to 100 %",
        f"{F}:22:5: steps[2].ilustration: unknown key; did you mean 'illustration'? allowed keys: title, "
        "say, duration_s, reps, rep_s, per_foot, wait_for_tap, bubbles, vibration_pct, illustration",
        f"{F}:25:17: steps[3].duration_s: true is not a whole number; allowed: a whole number from 5 to "
        "900 s",
    ]


def test_positions_stay_right_with_a_bom_and_crlf():
    text = edit((6, "  duration_s: 59"), (24, "    say: ''"))
    expected = [
        f"{F}:6:15: soak.duration_s: 59 is out of range; allowed: a whole number from 60 to 1800 s",
        f"{F}:24:10: steps[3].say: empty; write 1 to {m.SAY_MAX} characters",
    ]
    assert problems(text) == expected
    assert problems(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()) == expected
    assert parse_routine(b"\xef\xbb\xbf" + VALID.replace("\n", "\r\n").encode(), F) == EXPECTED


@pytest.mark.parametrize("line", [1, 2, 3, 4])
def test_each_missing_top_level_key_is_named(line):
    key = VALID.splitlines()[line - 1].split(":")[0]
    lines = (4, 5, 6, 7, 8, 9) if key == "soak" else (line,)
    found = problems(edit(*((n, None) for n in lines)))
    assert found == [f"{F}:1:1: {key}: missing; this key is required"]


def test_missing_steps_and_missing_step_fields():
    missing = "missing; this key is required"
    assert problems("\n".join(VALID.splitlines()[:9]) + "\n") == [f"{F}:1:1: steps: {missing}"]
    assert problems(edit((11, "  - say: x"), (12, None))) == [f"{F}:11:5: steps[1].title: {missing}"]
    assert problems(edit((12, None))) == [f"{F}:11:5: steps[1].say: {missing}"]
    assert problems(edit((6, None))) == [f"{F}:5:3: soak.duration_s: {missing}"]


def test_an_empty_file_lists_every_missing_key():
    assert problems("") == [f"{F}:1:1: {key}: missing; this key is required" for key in sorted(ROUTINE_KEYS)]


@pytest.mark.parametrize(("text", "expected"), [
    ("- a\n", "1:1: (file): a list is not a mapping; expected keys id, name, description, soak, steps"),
    ("just words\n", "1:1: (file): 'just words' is not a mapping; expected keys id, name, description, soak, "
                     "steps"),
])
def test_a_document_that_is_not_a_mapping(text, expected):
    assert problems(text) == [f"{F}:{expected}"]


# --- wrong types ------------------------------------------------------------------------------

# The "what is allowed" half of each message, spelled out once.
TARGET = "allowed: a number from 30.0 to 40.0 C"
SOAK_S = "allowed: a whole number from 60 to 1800 s"
PCT = "allowed: a whole number from 0 to 100 %"
STEP_S = "allowed: a whole number from 5 to 900 s"
REPS = "allowed: a whole number from 1 to 60"
REP_S = "allowed: a number from 1.0 to 60.0 s"
BOOL = "allowed: true or false"
ILLUSTRATIONS = "allowed: " + ", ".join(repr(i) for i in m.ILLUSTRATIONS)


@pytest.mark.parametrize(("line", "text", "expected"), [
    (1, "id: 12", "1:5: id: 12 is not text; write text of 1 to 32 characters"),
    (2, "name: [Morning]", "2:7: name: a list is not text; write text of 1 to 40 characters"),
    (3, "description: yes", "3:14: description: true is not text; write text of 1 to 120 characters"),
    (5, "  target_c: '38'", f"5:13: soak.target_c: '38' is not a number; {TARGET}"),
    (5, "  target_c: on", f"5:13: soak.target_c: true is not a number; {TARGET}"),
    (5, "  target_c: 38 C", f"5:13: soak.target_c: '38 C' is not a number; {TARGET}"),
    (6, "  duration_s: 300.5", f"6:15: soak.duration_s: 300.5 is not a whole number; {SOAK_S}"),
    (6, "  duration_s: false", f"6:15: soak.duration_s: false is not a whole number; {SOAK_S}"),
    (7, "  additives: [salt]", "7:14: soak.additives: a list is not text; write text of 1 to 160 characters"),
    (7, "  additives: {salt: 1}", "7:14: soak.additives: a mapping is not text; write text of 1 to 160 "
                                  "characters"),
    (7, "  additives: 3", "7:14: soak.additives: 3 is not text; write text of 1 to 160 characters"),
    (8, "  bubbles: 1", f"8:12: soak.bubbles: 1 is not true or false; {BOOL}"),
    (8, "  bubbles: 'true'", f"8:12: soak.bubbles: 'true' is not true or false; {BOOL}"),
    (9, "  vibration_pct: 20.5", f"9:18: soak.vibration_pct: 20.5 is not a whole number; {PCT}"),
    (11, "  - title: 2024", "11:12: steps[1].title: 2024 is not text; write text of 1 to 32 characters"),
    (11, "  - title: no", "11:12: steps[1].title: false is not text; write text of 1 to 32 characters"),
    (13, "    wait_for_tap: yes please",
     f"13:19: steps[1].wait_for_tap: 'yes please' is not true or false; {BOOL}"),
    (14, "    illustration: 3", f"14:19: steps[1].illustration: 3 is not allowed; {ILLUSTRATIONS}"),
    (17, "    reps: 4.5", f"17:11: steps[2].reps: 4.5 is not a whole number; {REPS}"),
    (17, "    reps: true", f"17:11: steps[2].reps: true is not a whole number; {REPS}"),
    (19, "    per_foot: both", f"19:15: steps[2].per_foot: 'both' is not true or false; {BOOL}"),
])
def test_wrong_types_are_located(line, text, expected):
    assert problems(edit((line, text))) == [f"{F}:{expected}"]


def test_soak_and_steps_of_the_wrong_kind():
    head = "\n".join(VALID.splitlines()[:3])
    steps = "\n".join(VALID.splitlines()[9:])
    soak = "\n".join(VALID.splitlines()[3:9])
    assert problems(f"{head}\nsoak: warm\n{steps}\n") == [
        f"{F}:4:7: soak: 'warm' is not a mapping; expected keys target_c, duration_s, additives, bubbles, "
        "vibration_pct"]
    assert problems(f"{head}\n{soak}\nsteps: none\n") == [
        f"{F}:10:8: steps: 'none' is not a list; list 1 to 30 steps, each starting with '-'"]
    assert problems(f"{head}\n{soak}\nsteps: {{title: x}}\n") == [
        f"{F}:10:8: steps: a mapping is not a list; list 1 to 30 steps, each starting with '-'"]


def test_a_step_that_is_not_a_mapping():
    assert problems(edit((11, "  - Just rest"), (12, None), (13, None), (14, None))) == [
        f"{F}:11:5: steps[1]: 'Just rest' is not a mapping; expected keys title, say, duration_s, reps, "
        "rep_s, per_foot, wait_for_tap, bubbles, vibration_pct, illustration"]


@pytest.mark.parametrize("value", [".nan", ".NaN", ".inf", "-.inf", "+.Inf"])
def test_nan_and_infinity_are_refused(value):
    shown = float(value.replace(".", ""))
    assert problems(edit((5, f"  target_c: {value}"))) == [
        f"{F}:5:13: soak.target_c: {shown} is out of range; {TARGET}"]
    assert problems(edit((6, f"  duration_s: {value}")))[0].startswith(f"{F}:6:15: soak.duration_s: ")


# --- ranges -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("line", "text", "expected"), [
    (5, "  target_c: 29.9", f"5:13: soak.target_c: 29.9 is out of range; {TARGET}"),
    (5, "  target_c: 40.1", f"5:13: soak.target_c: 40.1 is out of range; {TARGET}"),
    (5, "  target_c: 100", f"5:13: soak.target_c: 100 is out of range; {TARGET}"),
    (6, "  duration_s: 59", f"6:15: soak.duration_s: 59 is out of range; {SOAK_S}"),
    (6, "  duration_s: 1801", f"6:15: soak.duration_s: 1801 is out of range; {SOAK_S}"),
    (9, "  vibration_pct: 101", f"9:18: soak.vibration_pct: 101 is out of range; {PCT}"),
    (9, "  vibration_pct: -1", f"9:18: soak.vibration_pct: -1 is out of range; {PCT}"),
    (17, "    reps: 0", f"17:11: steps[2].reps: 0 is out of range; {REPS}"),
    (17, "    reps: 61", f"17:11: steps[2].reps: 61 is out of range; {REPS}"),
    (18, "    rep_s: 0.5", f"18:12: steps[2].rep_s: 0.5 is out of range; {REP_S}"),
    (18, "    rep_s: 60.5", f"18:12: steps[2].rep_s: 60.5 is out of range; {REP_S}"),
    (21, "    vibration_pct: 101", f"21:20: steps[2].vibration_pct: 101 is out of range; {PCT}"),
    (25, "    duration_s: 4", f"25:17: steps[3].duration_s: 4 is out of range; {STEP_S}"),
    (25, "    duration_s: 901", f"25:17: steps[3].duration_s: 901 is out of range; {STEP_S}"),
    (25, f"    duration_s: {10**25}", f"25:17: steps[3].duration_s: {10**25} is out of range; {STEP_S}"),
])
def test_out_of_range_values_are_located(line, text, expected):
    assert problems(edit((line, text))) == [f"{F}:{expected}"]


@pytest.mark.parametrize(("line", "text"), [
    (5, "  target_c: 30"), (5, "  target_c: 40.0"), (6, "  duration_s: 60"), (6, "  duration_s: 1800"),
    (6, "  duration_s: 600.0"), (9, "  vibration_pct: 0"), (9, "  vibration_pct: 100"),
    (17, "    reps: 1"), (17, "    reps: 60"), (18, "    rep_s: 1"), (18, "    rep_s: 15"),
    (25, "    duration_s: 5"), (25, "    duration_s: 900"), (7, "  additives:"),
])
def test_limits_themselves_are_allowed(line, text):
    parse_routine(edit((line, text)), F)


def test_the_ceiling_may_be_lowered_but_never_raised_above_40():
    hot = edit((5, "  target_c: 39.5"))
    assert parse_routine(hot, F).soak.target_c == 39.5
    assert problems(hot, ceiling_c=38.5) == [
        f"{F}:5:13: soak.target_c: 39.5 is out of range; allowed: a number from 30.0 to 38.5 C"]
    too_hot = edit((5, "  target_c: 42.0"))
    for ceiling in (40.0, 45.0, 1000.0, float("inf")):
        assert problems(too_hot, ceiling_c=ceiling) == [
            f"{F}:5:13: soak.target_c: 42.0 is out of range; allowed: a number from 30.0 to 40.0 C"]
    assert problems(hot, ceiling_c=float("nan"))  # a broken ceiling refuses, never allows


def test_a_rep_step_may_not_run_longer_than_a_timed_one():
    assert problems(edit((17, "    reps: 60"), (18, "    rep_s: 16"))) == [
        f"{F}:17:11: steps[2].reps: 60 reps of 16 s is 960 s; at most {m.STEP_MAX_S} s per foot"]
    assert parse_routine(edit((17, "    reps: 60"), (18, "    rep_s: 15")), F).steps[1].foot_s == 900


@pytest.mark.parametrize(("line", "key", "limit"), [
    (2, "name", m.NAME_MAX), (3, "description", m.DESCRIPTION_MAX), (11, "  - title", m.TITLE_MAX),
    (12, "    say", m.SAY_MAX), (7, "  additives", m.ADDITIVES_MAX),
])
def test_text_lengths_fit_the_screen(line, key, limit):
    col = len(key) + 3
    path = {2: "name", 3: "description", 11: "steps[1].title", 12: "steps[1].say", 7: "soak.additives"}[line]
    assert parse_routine(edit((line, f"{key}: {'x' * limit}")), F)
    assert problems(edit((line, f"{key}: {'x' * (limit + 1)}"))) == [
        f"{F}:{line}:{col}: {path}: {limit + 1} characters is too long; at most {limit}"]


def test_titles_fit_one_line_of_large_type():
    assert m.TITLE_MAX <= 32


def test_text_is_counted_after_folding_whitespace():
    routine = parse_routine(edit((11, "  - title: '  Feet    in  '"), (12, "    say: |\n      Put your feet\n"
                                                                           "      in the water.")), F)
    assert (routine.steps[0].title, routine.steps[0].say) == ("Feet in", "Put your feet in the water.")
    assert problems(edit((11, "  - title: '   '"))) == [
        f"{F}:11:12: steps[1].title: empty; write 1 to 32 characters"]


@pytest.mark.parametrize("rid", ["a", "classic", "foot-2", "x_y", "0", "a" * 32])
def test_ids_that_are_allowed(rid):
    assert parse_routine(edit((1, f"id: '{rid}'")), F).id == rid


@pytest.mark.parametrize(("rid", "problem"), [
    ("Classic", "'Classic' is not allowed; use lower-case letters, digits, - and _, like 'classic'"),
    ("-x", "'-x' is not allowed; use lower-case letters, digits, - and _, like 'classic'"),
    ("a b", "'a b' is not allowed; use lower-case letters, digits, - and _, like 'classic'"),
    ("../etc", "'../etc' is not allowed; use lower-case letters, digits, - and _, like 'classic'"),
    ("café", "'café' is not allowed; use lower-case letters, digits, - and _, like 'classic'"),
    ("a" * 33, "33 characters is too long; at most 32"),
    ("", "empty; write 1 to 32 characters"),
])
def test_ids_that_are_refused(rid, problem):
    assert problems(edit((1, f"id: '{rid}'"))) == [f"{F}:1:5: id: {problem}"]


# --- steps and their pace ---------------------------------------------------------------------

def test_an_empty_step_list_is_refused():
    text = "\n".join(VALID.splitlines()[:9]) + "\nsteps: []\n"
    assert problems(text) == [f"{F}:10:8: steps: no steps; list 1 to {m.STEPS_MAX} steps"]
    assert problems(text.replace("steps: []", "steps:")) == [
        f"{F}:10:7: steps: empty is not a list; list 1 to {m.STEPS_MAX} steps, each starting with '-'"]


def test_at_most_thirty_steps():
    step = "  - title: Rest\n    say: Breathe.\n    duration_s: 30\n"
    head = "\n".join(VALID.splitlines()[:10]) + "\n"
    assert len(parse_routine(head + step * m.STEPS_MAX, F).steps) == m.STEPS_MAX
    assert problems(head + step * (m.STEPS_MAX + 1)) == [
        f"{F}:11:3: steps: {m.STEPS_MAX + 1} steps is too many; at most {m.STEPS_MAX}"]


@pytest.mark.parametrize(("changes", "expected"), [
    (((13, None),), f"11:5: steps[1]: no pace; {PACE_HELP}"),
    (((13, "    wait_for_tap: false"),), f"11:5: steps[1]: no pace; {PACE_HELP}"),
    (((13, "    wait_for_tap: true\n    duration_s: 20"),),
     f"14:17: steps[1]: more than one pace; {PACE_HELP}, only one of them"),
    (((25, "    duration_s: 30\n    reps: 3\n    rep_s: 5"),), f"25:17: steps[3]: more than one pace; "
                                                              f"{PACE_HELP}, only one of them"),
    (((25, "    wait_for_tap: true\n    rep_s: 5"),), f"26:12: steps[3]: more than one pace; {PACE_HELP}, "
                                                      "only one of them"),
    (((18, None),), "15:5: steps[2].rep_s: missing; reps and rep_s go together"),
    (((17, None),), "15:5: steps[2].reps: missing; reps and rep_s go together"),
])
def test_each_step_has_exactly_one_pace(changes, expected):
    assert problems(edit(*changes)) == [f"{F}:{expected}"]


@pytest.mark.parametrize("illustration", m.ILLUSTRATIONS)
def test_every_known_illustration_is_allowed(illustration):
    routine = parse_routine(edit((14, f"    illustration: {illustration}")), F)
    assert routine.steps[0].illustration == illustration


def test_an_unknown_illustration_lists_the_known_ones():
    assert problems(edit((14, "    illustration: foot_rub"))) == [
        f"{F}:14:19: steps[1].illustration: 'foot_rub' is not allowed; allowed: "
        + ", ".join(repr(i) for i in m.ILLUSTRATIONS)]


def test_an_illustration_may_be_left_out():
    assert parse_routine(edit((14, None)), F).steps[0].illustration is None


# --- hostile input through the whole format ------------------------------------------------------

def test_a_python_tag_in_a_routine_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    text = edit((1, f"id: !!python/object/apply:os.system ['touch {marker}']"))
    assert problems(text) == [f"{F}:1:5: (file): tag !!python/object/apply:os.system is not allowed; "
                              "write plain values without tags"]
    assert not marker.exists()


def test_a_tab_indented_routine_is_refused_at_the_tab():
    assert problems(edit((5, "\ttarget_c: 38.0"))) == [
        f"{F}:5:1: (file): tab character in the indentation; indent with spaces, never tabs"]


def test_a_duplicate_key_in_a_step_is_refused():
    assert problems(edit((14, "    illustration: feet_in\n    title: Again"))) == [
        f"{F}:15:5: (file): duplicate key 'title' (first at line 11); give each key once"]
