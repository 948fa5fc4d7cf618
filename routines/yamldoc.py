"""Hand-edited YAML, read safely and with every value's position.

Staff edit routines and config over SSH, sometimes on other systems, sometimes badly, and a
file may even be hostile. So this module:

- accepts a UTF-8 BOM and CRLF line ends;
- refuses, with a located message and quickly, what is too large, not text, tab-indented,
  alias bombs, documents nested absurdly deep, duplicate or non-string keys, merge keys and
  any explicit tag (Python-object tags included: only the YAML composer runs, and only plain
  numbers, booleans and nulls are ever constructed);
- keeps the line and column of every key and value, so a validator can say exactly where:
  the line an editor shows (YAML's other line breaks, NEL and U+2028/9, count as spaces).

`Checker` gives validators one vocabulary for "what is wrong; what is allowed".
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import Problem, RoutineError

MAX_BYTES = 64 * 1024
MAX_NODES = 20_000
MAX_DEPTH = 64
DOCUMENT = "(file)"
# YAML 1.1 also breaks lines at NEL, U+2028 and U+2029; editors and `sed -n` do not.
_NOT_LINE_BREAKS = str.maketrans("\x85\u2028\u2029", "   ")

_CORE = "tag:yaml.org,2002:"
# The only scalars turned into Python values; every other untagged scalar (dates, `=`, `<<`)
# is kept as the text the person wrote.
_CONSTRUCTED_TAGS = {_CORE + t for t in ("int", "float", "bool", "null")}


@dataclass(frozen=True)
class Node:
    """A YAML value with its 1-based position; maps keep their keys' positions too."""

    kind: str  # "map", "seq" or "scalar"
    line: int
    col: int
    value: Any = None  # scalars: the Python value
    items: tuple[Node, ...] = ()  # seq items
    entries: dict[str, tuple[Node, Node]] = field(default_factory=dict)  # map: key -> (key, value)

    def describe(self) -> str:
        if self.kind == "map":
            return "a mapping"
        if self.kind == "seq":
            return "a list"
        return describe_value(self.value)


def describe_value(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return repr(shown)
    if isinstance(value, int) and value.bit_length() > 128:
        # Past 38 digits; YAML's base-60 ints can even be past the 4300 Python agrees to print.
        return "a number far too large"
    return repr(value)


class _Budget:
    def __init__(self) -> None:
        self.nodes = 0


class _TooDeep(yaml.MarkedYAMLError):
    pass


class _Loader(yaml.SafeLoader):
    """The safe composer, also noting which nodes carry an explicit tag (a composed node no
    longer tells `!!str 12` from `'12'`) and stopping deep nesting at its place, long before
    Python's recursion limit."""

    def __init__(self, text: str):
        super().__init__(text)
        self.depth = 0
        self.explicit_tags: dict[int, str] = {}  # id(node) -> the tag as written

    def compose_node(self, parent, index):
        event = self.peek_event()
        if self.depth > MAX_DEPTH:
            raise _TooDeep(problem=f"nested too deeply; at most {MAX_DEPTH} levels are allowed",
                           problem_mark=event.start_mark)
        self.depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        tag = getattr(event, "tag", None)  # an alias event has none: its node was noted already
        if tag is not None:
            self.explicit_tags[id(node)] = tag
        return node


def parse(data: bytes | str, file: str) -> Node:
    """Parse one YAML document into a `Node`, or raise `RoutineError` with located problems."""

    def fail(message: str, line: int = 1, col: int = 1) -> RoutineError:
        return RoutineError.from_problems([Problem(file, line, col, DOCUMENT, message)])

    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if len(data) > MAX_BYTES:
        raise fail(f"file is {len(data)} bytes; at most {MAX_BYTES} bytes are allowed")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # exc.object is the data after any BOM: positions count from there, as PyYAML's do.
        before = exc.object[: exc.start].replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        line_start = before.rfind(b"\n") + 1
        col = len(before[line_start:].decode("utf-8")) + 1  # valid up to the bad byte
        raise fail("not UTF-8 text (a binary file?); save it as UTF-8 text",
                   before.count(b"\n") + 1, col) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_NOT_LINE_BREAKS)
    # The characters PyYAML's reader accepts: anything else would escape as an unmarked error.
    if bad := re.search(r"[^\t\n\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]", text):
        line = text.count("\n", 0, bad.start()) + 1
        col = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        raise fail(f"control character {bad.group()!r} (a binary file?); only text is allowed",
                   line, col)

    loader = _Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark  # every scanner, parser and composer error has one
        raise fail(_explain_yaml_error(exc), mark.line + 1, mark.column + 1) from None
    finally:
        loader.dispose()
    if root is None:
        return Node("map", 1, 1)  # an empty file is an empty mapping

    problems: list[Problem] = []
    node = _convert(root, file, problems, _Budget(), 0, loader)
    if problems:
        raise RoutineError.from_problems(problems)
    return node


def _explain_yaml_error(exc: yaml.MarkedYAMLError) -> str:
    problem = exc.problem
    if isinstance(exc, _TooDeep):
        return problem
    if "'\\t'" in problem:  # "found character '\\t' that cannot start any token"
        return "tab character in the indentation; indent with spaces, never tabs"
    if "expected a single document" in (exc.context or ""):
        return "more than one YAML document; one document per file"
    if "duplicate anchor" in (exc.context or ""):
        name = exc.context.split("anchor ", 1)[1].split(";")[0]
        return (f"anchor {name} is defined twice (first at line {exc.context_mark.line + 1}); "
                "give each anchor its own name")
    context = f" {exc.context}" if exc.context else ""
    return f"not valid YAML: {problem}{context}; check the indentation and quoting here"


def _convert(node, file: str, problems: list[Problem], budget: _Budget, depth: int,
             loader: _Loader) -> Node:
    line, col = node.start_mark.line + 1, node.start_mark.column + 1

    def problem(message: str, at=node) -> None:
        problems.append(Problem(file, at.start_mark.line + 1, at.start_mark.column + 1,
                                DOCUMENT, message))

    budget.nodes += 1
    if budget.nodes > MAX_NODES:
        raise RoutineError.from_problems([Problem(
            file, line, col, DOCUMENT,
            f"document expands to more than {MAX_NODES} values (an alias bomb?); "
            "write values out instead of repeating aliases")])
    if depth > MAX_DEPTH:  # the composer stopped deep text: an alias nests deeper, or in itself
        raise RoutineError.from_problems([Problem(
            file, line, col, DOCUMENT, f"nested too deeply; at most {MAX_DEPTH} levels are allowed")])

    if (tag := loader.explicit_tags.get(id(node))) is not None:
        hint = " (put text that looks like a number in quotes)" if tag == _CORE + "str" else ""
        problem(f"tag {tag.replace(_CORE, '!!')} is not allowed; write plain values without tags{hint}")
        return Node("scalar", line, col, None)

    if isinstance(node, yaml.ScalarNode):
        if node.tag not in _CONSTRUCTED_TAGS:
            return Node("scalar", line, col, node.value)
        try:
            return Node("scalar", line, col, loader.construct_object(node))
        except ValueError:  # number-like yet unreadable (`0x_`, or past 4300 digits): keep the text
            return Node("scalar", line, col, node.value)

    if isinstance(node, yaml.SequenceNode):
        items = tuple(_convert(item, file, problems, budget, depth + 1, loader) for item in node.value)
        return Node("seq", line, col, items=items)

    entries: dict[str, tuple[Node, Node]] = {}
    for key_node, value_node in node.value:
        if key_node.tag == _CORE + "merge":
            problem("merge keys (<<) are not supported; write the keys out", key_node)
            continue
        reported = len(problems)
        key = _convert(key_node, file, problems, budget, depth + 1, loader)
        if len(problems) > reported:  # already said what is wrong with this key
            continue
        if key.kind != "scalar" or not isinstance(key.value, str):
            problem(f"key {key.describe()} is not text; keys are plain words like target_c",
                    key_node)
            continue
        if key.value in entries:
            first = entries[key.value][0]
            problem(f"duplicate key {describe_value(key.value)} (first at line {first.line}); "
                    "give each key once", key_node)
            continue
        value = _convert(value_node, file, problems, budget, depth + 1, loader)
        entries[key.value] = (key, value)
    return Node("map", line, col, entries=entries)


class Checker:
    """Collects every problem in one pass; each check returns the value or None when bad."""

    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, node: Node, path: str, message: str) -> None:
        self.problems.append(Problem(self.file, node.line, node.col, path, message))

    def raise_if_any(self, error: type[RoutineError] = RoutineError) -> None:
        if self.problems:
            raise error.from_problems(self.problems)

    def mapping(self, node: Node, path: str, required=(), optional=()) -> dict[str, Node] | None:
        """Check a mapping's keys; returns key -> value node for the known keys present."""
        allowed = (*required, *optional)
        if node.kind != "map":
            self.problem(node, path or DOCUMENT,
                         f"{node.describe()} is not a mapping; expected keys {', '.join(allowed)}")
            return None
        found: dict[str, Node] = {}
        for key, (key_node, value_node) in node.entries.items():
            if key in allowed:
                found[key] = value_node
                continue
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            # A key is any text: quoted when it is not a plain word, so the report stays one line.
            shown = key if re.fullmatch(r"[\w-]{1,40}", key, re.ASCII) else describe_value(key)
            self.problem(key_node, f"{path}.{shown}" if path else shown,
                         f"unknown key; {hint}allowed keys: {', '.join(allowed)}")
        for key in required:
            if key not in node.entries:
                where = f"{path}.{key}" if path else key
                self.problem(node, where, "missing; this key is required")
        return found

    def text(self, node: Node, path: str, *, max_len: int, min_len: int = 1,
             pattern: str | None = None, pattern_help: str = "") -> str | None:
        value = node.value
        if node.kind != "scalar" or not isinstance(value, str):
            self.problem(node, path, f"{node.describe()} is not text; write text "
                                     f"of {min_len} to {max_len} characters")
            return None
        value = " ".join(value.split())  # the screen wraps text itself
        if len(value) < min_len:
            self.problem(node, path, f"empty; write {min_len} to {max_len} characters")
            return None
        if len(value) > max_len:
            self.problem(node, path, f"{len(value)} characters is too long; at most {max_len}")
            return None
        if pattern and not re.fullmatch(pattern, value):
            self.problem(node, path, f"{describe_value(value)} is not allowed; {pattern_help}")
            return None
        return value

    def number(self, node: Node, path: str, *, lo: float, hi: float, integer: bool = False,
               unit: str = "") -> float | int | None:
        value = node.value
        kind = "a whole number" if integer else "a number"
        allowed = f"{kind} from {_fmt(lo)} to {_fmt(hi)}{unit}"
        is_number = node.kind == "scalar" and isinstance(value, int | float) and not isinstance(value, bool)
        if not is_number or (integer and isinstance(value, float) and not value.is_integer()):
            self.problem(node, path, f"{node.describe()} is not {kind}; allowed: {allowed}")
            return None
        # No float(): a YAML int may be too large for one.
        if (isinstance(value, float) and not math.isfinite(value)) or not lo <= value <= hi:
            self.problem(node, path, f"{_fmt(value)} is out of range; allowed: {allowed}")
            return None
        return int(value) if integer else float(value)

    def boolean(self, node: Node, path: str) -> bool | None:
        if node.kind != "scalar" or not isinstance(node.value, bool):
            self.problem(node, path, f"{node.describe()} is not true or false; "
                                     "allowed: true or false")
            return None
        return node.value

    def choice(self, node: Node, path: str, choices) -> Any:
        value = node.value
        if node.kind != "scalar" or not any(type(c) is type(value) and c == value for c in choices):
            shown = ", ".join(describe_value(c) for c in choices)
            self.problem(node, path, f"{node.describe()} is not allowed; allowed: {shown}")
            return None
        return node.value


def _fmt(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return f"{value:.1f}"
    return describe_value(value)
