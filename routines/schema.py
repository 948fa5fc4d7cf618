"""Turn a routine YAML document into a `Routine`, reporting every problem in one pass."""

from __future__ import annotations

from . import model as m
from .model import Routine, Soak, Step
from .yamldoc import Checker, Node, parse

ROUTINE_KEYS = ("id", "name", "description", "soak", "steps")
SOAK_KEYS = ("target_c", "duration_s", "additives", "bubbles", "vibration_pct")
STEP_KEYS = ("title", "say", "duration_s", "reps", "rep_s", "per_foot", "wait_for_tap",
             "bubbles", "vibration_pct", "illustration")
PACE_HELP = "give duration_s, or reps with rep_s, or wait_for_tap: true"


def parse_routine(data: bytes | str, file: str, *, ceiling_c: float = m.CEILING_C) -> Routine:
    """Validate a routine document; raises `RoutineError` listing every problem with its place."""
    ceiling_c = min(ceiling_c, m.CEILING_C)
    root = parse(data, file)
    check = Checker(file)
    routine = _routine(check, root, ceiling_c)
    check.raise_if_any()
    assert routine is not None
    return routine


def _routine(check: Checker, node: Node, ceiling_c: float) -> Routine | None:
    fields = check.mapping(node, "", required=ROUTINE_KEYS)
    if fields is None:
        return None
    rid = name = description = soak = None
    steps: tuple[Step | None, ...] = ()
    if "id" in fields:
        rid = check.text(fields["id"], "id", max_len=32, pattern=m.ID_PATTERN,
                         pattern_help="use lower-case letters, digits, - and _, like 'classic'")
    if "name" in fields:
        name = check.text(fields["name"], "name", max_len=m.NAME_MAX)
    if "description" in fields:
        description = check.text(fields["description"], "description", max_len=m.DESCRIPTION_MAX)
    if "soak" in fields:
        soak = _soak(check, fields["soak"], ceiling_c)
    if "steps" in fields:
        steps = _steps(check, fields["steps"])
    if None in (rid, name, description, soak) or None in steps or not steps:
        return None
    return Routine(rid, name, description, soak, steps)  # type: ignore[arg-type]


def _soak(check: Checker, node: Node, ceiling_c: float) -> Soak | None:
    fields = check.mapping(node, "soak", required=SOAK_KEYS[:2], optional=SOAK_KEYS[2:])
    if fields is None:
        return None
    target = duration = None
    additives, bubbles, vibration = "", False, 0
    if "target_c" in fields:
        target = check.number(fields["target_c"], "soak.target_c", lo=m.TARGET_MIN_C,
                              hi=ceiling_c, unit=" C")
    if "duration_s" in fields:
        duration = check.number(fields["duration_s"], "soak.duration_s", lo=m.SOAK_MIN_S,
                                hi=m.SOAK_MAX_S, integer=True, unit=" s")
    if "additives" in fields and not _empty(fields["additives"]):
        additives = check.text(fields["additives"], "soak.additives", max_len=m.ADDITIVES_MAX)
    if "bubbles" in fields:
        bubbles = check.boolean(fields["bubbles"], "soak.bubbles")
    if "vibration_pct" in fields:
        vibration = check.number(fields["vibration_pct"], "soak.vibration_pct", lo=0, hi=100,
                                 integer=True, unit=" %")
    if None in (target, duration, additives, bubbles, vibration):
        return None
    return Soak(target, duration, additives, bubbles, vibration)  # type: ignore[arg-type]


def _empty(node: Node) -> bool:
    """`additives:` with nothing after it means none, like leaving the key out."""
    return node.kind == "scalar" and node.value is None


def _steps(check: Checker, node: Node) -> tuple[Step | None, ...]:
    if node.kind != "seq":
        check.problem(node, "steps", f"{node.describe()} is not a list; "
                                     f"list 1 to {m.STEPS_MAX} steps, each starting with '-'")
        return (None,)
    if not node.items:
        check.problem(node, "steps", f"no steps; list 1 to {m.STEPS_MAX} steps")
        return (None,)
    if len(node.items) > m.STEPS_MAX:
        check.problem(node, "steps", f"{len(node.items)} steps is too many; at most {m.STEPS_MAX}")
        return (None,)
    return tuple(_step(check, item, f"steps[{i}]") for i, item in enumerate(node.items, 1))


def _step(check: Checker, node: Node, path: str) -> Step | None:
    fields = check.mapping(node, path, required=("title", "say"), optional=STEP_KEYS[2:])
    if fields is None:
        return None
    values: dict = {}
    ok = "title" in fields and "say" in fields  # a missing one is reported already

    def take(key, value):
        nonlocal ok
        if value is None:
            ok = False
        values[key] = value

    if "title" in fields:
        take("title", check.text(fields["title"], f"{path}.title", max_len=m.TITLE_MAX))
    if "say" in fields:
        take("say", check.text(fields["say"], f"{path}.say", max_len=m.SAY_MAX))
    if "duration_s" in fields:
        take("duration_s", check.number(fields["duration_s"], f"{path}.duration_s",
                                        lo=m.STEP_MIN_S, hi=m.STEP_MAX_S, integer=True, unit=" s"))
    if "reps" in fields:
        take("reps", check.number(fields["reps"], f"{path}.reps", lo=1, hi=m.REPS_MAX, integer=True))
    if "rep_s" in fields:
        take("rep_s", check.number(fields["rep_s"], f"{path}.rep_s", lo=m.REP_MIN_S,
                                   hi=m.REP_MAX_S, unit=" s"))
    for flag in ("per_foot", "wait_for_tap", "bubbles"):
        if flag in fields:
            take(flag, check.boolean(fields[flag], f"{path}.{flag}"))
    if "vibration_pct" in fields:
        take("vibration_pct", check.number(fields["vibration_pct"], f"{path}.vibration_pct",
                                           lo=0, hi=100, integer=True, unit=" %"))
    if "illustration" in fields:
        take("illustration", check.choice(fields["illustration"], f"{path}.illustration",
                                          m.ILLUSTRATIONS))
    if not ok:
        return None
    return _paced(check, node, fields, path, values)


def _paced(check: Checker, node: Node, fields: dict, path: str, values: dict) -> Step | None:
    """Exactly one way of pacing the step; a rep step needs both its count and its pace."""
    timed = "duration_s" in fields
    paced = "reps" in fields or "rep_s" in fields
    prompt = values.get("wait_for_tap", False)
    if timed + paced + prompt != 1:
        where = fields.get("duration_s") or fields.get("reps") or fields.get("rep_s") or node
        if timed + paced + prompt == 0:
            check.problem(node, path, f"no pace; {PACE_HELP}")
        else:
            check.problem(where, path, f"more than one pace; {PACE_HELP}, only one of them")
        return None
    if paced and not ("reps" in fields and "rep_s" in fields):
        missing = "rep_s" if "reps" in fields else "reps"
        check.problem(node, f"{path}.{missing}", "missing; reps and rep_s go together")
        return None
    step = Step(**values)
    if step.foot_s > m.STEP_MAX_S:
        check.problem(fields["reps"], f"{path}.reps",
                      f"{step.reps} reps of {step.rep_s:g} s is {step.foot_s:g} s; "
                      f"at most {m.STEP_MAX_S} s per foot")
        return None
    return step

