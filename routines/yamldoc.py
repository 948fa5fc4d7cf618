"""Hand-edited YAML, read safely and with every value's position.

Staff edit routines and config over SSH, sometimes on other systems, sometimes badly, and a
file may even be hostile. So this module:

- accepts a UTF-8 BOM and CRLF line ends;
- refuses, with a located message and quickly, what is too large, not text, tab-indented,
  alias bombs, documents nested absurdly deep, duplicate or non-string keys, merge keys and
  any explicit tag (Python-object tags included: only the YAML composer runs, nothing is
  ever constructed from a tag);
- keeps the line and column of every key and value, so a validator can say exactly where.

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

_CORE = "tag:yaml.org,2002:"
_PLAIN_TAGS = {_CORE + t for t in ("str", "int", "float", "bool", "null", "seq", "map")}
# A date-looking scalar is kept as the text the person wrote.
_TEXT_TAGS = {_CORE + "str", _CORE + "timestamp"}


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
    return repr(value)


class _Budget:
    def __init__(self) -> None:
        self.nodes = 0


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
        line = data[: exc.start].count(b"\n") + 1
        raise fail("not UTF-8 text (a binary file?); save it as UTF-8 text", line) from None
    if bad := re.search(r"[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]", text):
        line = text.count("\n", 0, bad.start()) + 1
        col = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        raise fail(f"control character {bad.group()!r} (a binary file?); only text is allowed",
                   line, col)

    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise fail(_explain_yaml_error(exc), line, col) from None
    except yaml.YAMLError as exc:  # pragma: no cover - every PyYAML parse error is marked
        raise fail(f"not valid YAML: {exc}") from None
    except RecursionError:
        raise fail(f"nested too deeply; at most {MAX_DEPTH} levels are allowed") from None
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
    problem = exc.problem or str(exc)
    if "'\\t'" in problem or "\t" in problem:
        return "tab character in the indentation; indent with spaces, never tabs"
    if "expected a single document" in (exc.context or "") + problem:
        return "more than one YAML document; one document per file"
    context = f" {exc.context}" if exc.context else ""
    return f"not valid YAML: {problem}{context}; check the indentation and quoting here"


def _convert(node, file: str, problems: list[Problem], budget: _Budget, depth: int, loader) -> Node:
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
    if depth > MAX_DEPTH:
        raise RoutineError.from_problems([Problem(
            file, line, col, DOCUMENT, f"nested too deeply; at most {MAX_DEPTH} levels are allowed")])

    if node.tag not in _PLAIN_TAGS and not (node.tag in _TEXT_TAGS and isinstance(node, yaml.ScalarNode)):
        shown = node.tag.replace(_CORE, "!!")
        problem(f"tag {shown} is not allowed; write plain values without tags")
        return Node("scalar", line, col, None)

    if isinstance(node, yaml.ScalarNode):
        if node.tag in _TEXT_TAGS:
            return Node("scalar", line, col, node.value)
        return Node("scalar", line, col, loader.construct_object(node))

    if isinstance(node, yaml.SequenceNode):
        items = tuple(_convert(item, file, problems, budget, depth + 1, loader) for item in node.value)
        return Node("seq", line, col, items=items)

    entries: dict[str, tuple[Node, Node]] = {}
    for key_node, value_node in node.value:
        if key_node.tag == _CORE + "merge":
            problem("merge keys (<<) are not supported; write the keys out", key_node)
            continue
        key = _convert(key_node, file, problems, budget, depth + 1, loader)
        if key.kind != "scalar" or not isinstance(key.value, str):
            problem(f"key {key.describe()} is not text; keys are plain words like target_c",
                    key_node)
            continue
        if key.value in entries:
            first = entries[key.value][0]
            problem(f"duplicate key {key.value!r} (first at line {first.line}); "
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
        if node.kind != "map":
            self.problem(node, path, f"{node.describe()} is not a mapping; "
                                     f"expected keys {', '.join((*required, *optional))}")
            return None
        allowed = (*required, *optional)
        found: dict[str, Node] = {}
        for key, (key_node, value_node) in node.entries.items():
            where = f"{path}.{key}" if path else key
            if key in allowed:
                found[key] = value_node
                continue
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            self.problem(key_node, where, f"unknown key; {hint}allowed keys: {', '.join(allowed)}")
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
        if not math.isfinite(value) or not lo <= value <= hi:
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
    return str(value)
