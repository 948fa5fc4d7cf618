"""Property tests of the routine format (issue 2, section 3): whatever is thrown at
`parse_routine`, it returns a Routine within every limit or raises RoutineError whose problems
are well-formed one-line `FILE:LINE:COL: path: what; allowed` reports. Nothing else escapes.

Runs are bounded and derandomized, so they are fast and repeatable.
"""

import copy
import math
import re

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routines import model as m
from routines.errors import RoutineError
from routines.library import shipped_documents
from routines.model import Routine, Soak, Step
from routines.schema import ROUTINE_KEYS, SOAK_KEYS, STEP_KEYS, parse_routine

pytestmark = pytest.mark.slow  # thousands of drawn documents

F = "h.yaml"
BOUNDED = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
REPORT = re.compile(rf"{re.escape(F)}:(\d+):(\d+): (\S[^\n]*?): ([^\n]+); ([^\n]+)")
# libyaml's emitter when PyYAML has it: the same YAML as safe_dump, in a fraction of the time.
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
SHIPPED = [yaml.safe_load(data) for _, data in shipped_documents()]
SHIPPED_TEXT = [data.decode() for _, data in shipped_documents()]


def check(data, ceiling_c: float = m.CEILING_C) -> Routine | None:
    """Parse and check the outcome: a routine within limits, or located one-line problems."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    try:
        routine = parse_routine(data, F, ceiling_c=ceiling_c)
    except RoutineError as exc:
        assert exc.problems
        assert str(exc) == "\n".join(str(p) for p in exc.problems)
        assert list(exc.problems) == sorted(exc.problems)
        max_line = raw.count(b"\n") + raw.count(b"\r") + 1
        for problem in exc.problems:
            assert REPORT.fullmatch(str(problem)), str(problem)
            assert 1 <= problem.line <= max_line, str(problem)
            assert 1 <= problem.col <= len(raw) + 1, str(problem)
        return None
    assert_within_limits(routine, min(ceiling_c, m.CEILING_C))
    return routine


def assert_within_limits(routine: Routine, ceiling_c: float) -> None:
    def text(value, max_len, min_len=1):
        assert isinstance(value, str) and min_len <= len(value) <= max_len
        assert value == " ".join(value.split())

    assert re.fullmatch(m.ID_PATTERN, routine.id)
    text(routine.name, m.NAME_MAX)
    text(routine.description, m.DESCRIPTION_MAX)
    soak = routine.soak
    assert type(soak.target_c) is float and m.TARGET_MIN_C <= soak.target_c <= ceiling_c <= 40.0
    assert type(soak.duration_s) is int and m.SOAK_MIN_S <= soak.duration_s <= m.SOAK_MAX_S
    text(soak.additives, m.ADDITIVES_MAX, min_len=0)
    assert type(soak.bubbles) is bool
    assert type(soak.vibration_pct) is int and 0 <= soak.vibration_pct <= 100
    assert type(routine.steps) is tuple and 1 <= len(routine.steps) <= m.STEPS_MAX
    for step in routine.steps:
        text(step.title, m.TITLE_MAX)
        text(step.say, m.SAY_MAX)
        paces = [step.duration_s is not None, step.reps is not None, step.wait_for_tap]
        assert sum(paces) == 1
        assert (step.reps is None) == (step.rep_s is None)
        if step.duration_s is not None:
            assert type(step.duration_s) is int and m.STEP_MIN_S <= step.duration_s <= m.STEP_MAX_S
        if step.reps is not None:
            assert type(step.reps) is int and 1 <= step.reps <= m.REPS_MAX
            assert type(step.rep_s) is float and m.REP_MIN_S <= step.rep_s <= m.REP_MAX_S
        assert 0 < step.foot_s <= m.STEP_MAX_S
        assert all(type(v) is bool for v in (step.per_foot, step.wait_for_tap, step.bubbles))
        assert type(step.vibration_pct) is int and 0 <= step.vibration_pct <= 100
        assert step.illustration is None or step.illustration in m.ILLUSTRATIONS
    assert math.isfinite(routine.length_s)


# --- raw bytes and text -------------------------------------------------------------------------

@BOUNDED
@given(st.binary(max_size=3000))
def test_random_bytes(data):
    check(data)


@BOUNDED
@given(st.text(max_size=2000))
def test_random_text(text):
    check(text)


TOKENS = [
    *(f"{k}: " for k in {*ROUTINE_KEYS, *SOAK_KEYS, *STEP_KEYS}), "id: classic", "target_c: 38.5",
    "\n", "\n  ", "\n    ", "\r\n", "\r", " ", "  ", "\t", "- ", "[", "]", "{", "}", ",", ": ", "? ", "#",
    "&a ", "*a", "&b ", "*b", "!!python/object/apply:os.system ['true'] ", "!!str ", "!x ", "! ", "<<: ",
    "---\n", "...\n", "%YAML 1.1\n", "'", '"', "|", ">", "\ufeff", "\x00", "\u2028", "\x85", "38.5",
    "600", "0x1F", "1e400", "1" * 5000, ".nan", ".inf", "-1", "true", "no", "~", "2024-05-01", "10:00",
    "dry", "Dry your feet", "é", "\\", "%",
]


@BOUNDED
@given(st.lists(st.sampled_from(TOKENS), max_size=80).map("".join))
def test_yaml_shaped_token_soup(text):
    check(text)


@BOUNDED
@given(st.sampled_from(SHIPPED_TEXT), st.data())
def test_shipped_files_with_characters_cut_and_inserted(text, data):
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 8))
        insert = data.draw(st.text(max_size=4) | st.sampled_from(TOKENS))
        text = text[:at] + insert + text[at + cut:]
    check(text)


# --- structured documents ---------------------------------------------------------------------

KEYS = st.sampled_from(sorted({*ROUTINE_KEYS, *SOAK_KEYS, *STEP_KEYS})) | st.text(max_size=12)
SCALARS = (st.none() | st.booleans() | st.integers(-10**30, 10**30) | st.floats()
           | st.text(max_size=60) | st.sampled_from(m.ILLUSTRATIONS))
DOCUMENTS = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=5)
                         | st.dictionaries(KEYS, inner, max_size=6), max_leaves=30)


def dump(document, flow: bool | None = None, unicode: bool = True) -> str:
    return yaml.dump(document, Dumper=DUMPER, default_flow_style=flow, allow_unicode=unicode, sort_keys=False)


@BOUNDED
@given(DOCUMENTS, st.sampled_from([None, True, False]), st.booleans())
def test_random_documents(document, flow, unicode):
    check(dump(document, flow, unicode))


NUMBERS = (st.integers(-100, 5000) | st.floats(-1e3, 1e4) | st.sampled_from([math.nan, math.inf, -math.inf])
           | st.booleans() | st.sampled_from([10**40, 10**400]))
WRONG = NUMBERS | st.text(max_size=300) | DOCUMENTS
# Up to 30 characters, within every text limit; a letter first, so never blank.
WORDS = st.tuples(st.sampled_from("aeKM"), st.text(alphabet="abcdefghij KLM.,'-\n", max_size=29)).map("".join)


@st.composite
def routine_shaped(draw):
    """Nearly valid routines: each key is now and then missing or wrong, so some come out valid
    (about one in six) and the rest reach the deep checks with one or two faults."""

    def put(into: dict, key: str, right) -> None:
        roll = draw(st.integers(0, 59))
        if roll == 0:
            return  # missing
        into[key] = draw(WRONG if roll == 1 else right)

    soak: dict = {}
    put(soak, "target_c", st.floats(m.TARGET_MIN_C, m.CEILING_C))
    put(soak, "duration_s", st.integers(m.SOAK_MIN_S, m.SOAK_MAX_S))
    for key, right in (("additives", st.none() | WORDS), ("bubbles", st.booleans()),
                       ("vibration_pct", st.integers(0, 100))):
        if draw(st.booleans()):
            put(soak, key, right)
    steps = []
    for _ in range(draw(st.integers(0, 4) | st.just(1))):
        step: dict = {}
        put(step, "title", WORDS)
        put(step, "say", WORDS)
        pace = draw(st.sampled_from(["duration_s", "reps", "wait_for_tap"] * 10 + ["two", "none", "half"]))
        if pace in ("duration_s", "two"):
            put(step, "duration_s", st.integers(m.STEP_MIN_S, m.STEP_MAX_S))
        if pace in ("reps", "two", "half"):
            put(step, "reps", st.integers(1, m.REPS_MAX))
        if pace in ("reps", "two"):
            put(step, "rep_s", st.floats(m.REP_MIN_S, m.REP_MAX_S))
        if pace == "wait_for_tap":
            put(step, "wait_for_tap", st.booleans())
        for key, right in (("per_foot", st.booleans()), ("bubbles", st.booleans()),
                           ("vibration_pct", st.integers(0, 100)),
                           ("illustration", st.sampled_from(m.ILLUSTRATIONS))):
            if draw(st.booleans()):
                put(step, key, right)
        steps.append(step)
    document: dict = {}
    put(document, "id", st.from_regex(m.ID_PATTERN, fullmatch=True))
    put(document, "name", WORDS)
    put(document, "description", WORDS)
    put(document, "soak", st.just(soak))
    put(document, "steps", st.just(steps))
    if not draw(st.integers(0, 29)):
        document[draw(KEYS)] = draw(SCALARS)  # now and then a key of the wrong name
    return document


@BOUNDED
@given(routine_shaped(), st.just(m.CEILING_C) | st.floats(25.0, 45.0) | st.sampled_from([math.inf, math.nan]))
def test_routine_shaped_documents(document, ceiling_c):
    check(dump(document), ceiling_c)


def paths(document, prefix=()):
    """Every place in a document: keys of mappings and items of lists."""
    found = []
    items = document.items() if isinstance(document, dict) else enumerate(document)
    for key, value in items:
        found.append((*prefix, key))
        if isinstance(value, dict | list):
            found.extend(paths(value, (*prefix, key)))
    return found


@BOUNDED
@given(st.sampled_from(range(len(SHIPPED))), st.data())
def test_mutated_shipped_routines(index, data):
    document = copy.deepcopy(SHIPPED[index])
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.sampled_from(paths(document) or [()]))
        if not where:
            break
        *parents, last = where
        parent = document
        for key in parents:
            parent = parent[key]
        action = data.draw(st.sampled_from(["drop", "retype", "text", "number", "structure"]))
        if action == "drop":
            del parent[last]
        elif action == "retype":
            old = parent[last]
            parent[last] = data.draw(SCALARS.filter(lambda v, old=old: type(v) is not type(old)))
        elif action == "text":
            parent[last] = data.draw(st.text(max_size=300))
        elif action == "number":
            parent[last] = data.draw(NUMBERS)
        else:
            parent[last] = data.draw(DOCUMENTS)
    check(dump(document))


# --- valid routines read back exactly -------------------------------------------------------------

def folded(text: str) -> str:
    return " ".join(text.split())


@st.composite
def valid_routines(draw):
    steps = []
    for _ in range(draw(st.integers(1, 6))):
        pace = draw(st.sampled_from(["duration_s", "reps", "wait_for_tap"]))
        step = Step(
            title=draw(WORDS), say=draw(WORDS),
            duration_s=draw(st.integers(m.STEP_MIN_S, m.STEP_MAX_S)) if pace == "duration_s" else None,
            reps=draw(st.integers(1, 15)) if pace == "reps" else None,  # 15 x 60 s: the 900 s limit
            rep_s=draw(st.floats(m.REP_MIN_S, m.REP_MAX_S)) if pace == "reps" else None,
            wait_for_tap=pace == "wait_for_tap", per_foot=draw(st.booleans()), bubbles=draw(st.booleans()),
            vibration_pct=draw(st.integers(0, 100)),
            illustration=draw(st.none() | st.sampled_from(m.ILLUSTRATIONS)))
        steps.append(step)
    ceiling = draw(st.floats(m.TARGET_MIN_C, 40.0))
    soak = Soak(target_c=draw(st.floats(m.TARGET_MIN_C, ceiling)),
                duration_s=draw(st.integers(m.SOAK_MIN_S, m.SOAK_MAX_S)),
                additives=draw(st.just("") | WORDS), bubbles=draw(st.booleans()),
                vibration_pct=draw(st.integers(0, 100)))
    routine = Routine(id=draw(st.from_regex(m.ID_PATTERN, fullmatch=True)), name=draw(WORDS),
                      description=draw(WORDS), soak=soak, steps=tuple(steps))
    return routine, ceiling


def as_document(routine: Routine) -> dict:
    soak = {k: v for k, v in vars(routine.soak).items() if v != ""}
    steps = [{k: v for k, v in vars(s).items() if v is not None and v is not False} for s in routine.steps]
    return {"id": routine.id, "name": routine.name, "description": routine.description, "soak": soak,
            "steps": steps}


@BOUNDED
@given(valid_routines(), st.sampled_from([None, True, False]))
def test_valid_routines_read_back_exactly(case, flow):
    routine, ceiling = case
    parsed = check(dump(as_document(routine), flow), ceiling)
    steps = tuple(Step(**{**vars(s), "title": folded(s.title), "say": folded(s.say)}) for s in routine.steps)
    expected = Routine(routine.id, folded(routine.name), folded(routine.description),
                       Soak(**{**vars(routine.soak), "additives": folded(routine.soak.additives)}), steps)
    assert parsed == expected
