"""Extract the kiosk's words: every `_("...")` in kiosk/ui/*.py into locale/footbath.pot.

    python tools/extract_strings.py            write the template
    python tools/extract_strings.py --merge    also bring each <lang>.po in step: new strings
                                               added untranslated, strings gone from the source
                                               dropped, translations kept
    python tools/extract_strings.py --check    write nothing; exit 1 and say what is wrong when
                                               the template is out of date or a catalog has a
                                               missing, empty, stale or mismatched translation

Strings are read with `ast`, so only literals count: `_("Step {i} of {n}").format(...)` gives
the template "Step {i} of {n}", and `_(name)` or `_(f"...")` is reported as a mistake (a
translator could never see it). Then translate the new entries in each .po by hand.
"""

from __future__ import annotations

import argparse
import ast
import re
import string
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIR = ROOT / "kiosk" / "ui"
LOCALE_DIR = SOURCE_DIR / "locale"
TEMPLATE = LOCALE_DIR / "footbath.pot"
WIDTH = 79  # what xgettext wraps to

sys.path.insert(0, str(ROOT))
from kiosk.ui.i18n import read_po  # noqa: E402  (the tool runs from a checkout)


@dataclass
class Message:
    msgid: str
    places: list[str] = field(default_factory=list)  # "kiosk/ui/words.py:23"


def extract(folder: Path = SOURCE_DIR) -> tuple[list[Message], list[str]]:
    """The `_()` strings of `folder`/*.py in order of first use, and the mistakes found (a `_()`
    that is not one literal, a `_` that hides gettext)."""
    found: dict[str, Message] = {}
    problems: list[str] = []
    for path in sorted(folder.glob("*.py")):
        where = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        problems += [f"{where}:{line}: this binds `_`, which hides the gettext function there: "
                     "use another name (e.g. *args)" for line in _shadows(tree)]
        calls = [node for node in ast.walk(tree) if _is_gettext_call(node)]
        for call in sorted(calls, key=lambda c: (c.lineno, c.col_offset)):
            arg = call.args[0] if len(call.args) == 1 and not call.keywords else None
            if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)) or not arg.value:
                problems.append(f"{where}:{call.lineno}: _() needs one non-empty string literal "
                                "(use _(\"... {name} ...\").format(name=...) for values)")
                continue
            found.setdefault(arg.value, Message(arg.value)).places.append(f"{where}:{call.lineno}")
    return list(found.values()), problems


SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def _shadows(tree: ast.Module) -> list[int]:
    """Lines that bind `_` where `_("...")` is called, in a module that imports it as gettext:
    `def f(self, *_)` turns every `_("...")` in `f` into a call of a tuple."""
    imports = any(isinstance(node, ast.ImportFrom) and any((a.asname or a.name) == "_" for a in node.names)
                  for node in tree.body)
    if not imports:
        return []
    lines = []
    for scope in [tree, *(node for node in ast.walk(tree) if isinstance(node, SCOPES))]:
        bound = [node.lineno for node in _own_nodes(scope) if _binds_underscore(node)]
        if bound and any(_is_gettext_call(node) for node in ast.walk(scope)):
            lines += bound
    return sorted(set(lines))


def _own_nodes(scope: ast.AST):
    """The nodes of a scope, its own parameters included, without the scopes nested in it."""
    todo = list(ast.iter_child_nodes(scope))
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, SCOPES):
            todo += ast.iter_child_nodes(node)


def _binds_underscore(node: ast.AST) -> bool:
    return ((isinstance(node, ast.arg) and node.arg == "_")
            or (isinstance(node, ast.Name) and node.id == "_" and isinstance(node.ctx, ast.Store))
            or (isinstance(node, ast.ExceptHandler) and node.name == "_"))


def _is_gettext_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_"


def quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t").replace("\n", "\\n")
    return f'"{escaped}"'


def entry_lines(keyword: str, text: str) -> list[str]:
    """`msgid "..."`, split after spaces the way xgettext does when the line would be too long."""
    if len(keyword) + 1 + len(quote(text)) <= WIDTH:
        return [f"{keyword} {quote(text)}"]
    pieces: list[str] = []
    line = ""
    for word in filter(None, re.findall(r"[^ \n]*(?: +|\n|$)", text)):
        if line and len(quote(line + word)) > WIDTH:
            pieces.append(line)
            line = ""
        line += word
    return [f'{keyword} ""', *(quote(piece) for piece in [*pieces, line] if piece)]


HEADER = """\
# The kiosk's words ({title}).
# Made by tools/extract_strings.py from kiosk/ui/*.py{note}.
msgid ""
msgstr ""
"Project-Id-Version: footbath\\n"
"Language: {language}\\n"
"MIME-Version: 1.0\\n"
"Content-Type: text/plain; charset=UTF-8\\n"
"Content-Transfer-Encoding: 8bit\\n"
"""


def placeholders(text: str) -> Counter | None:
    """The `{fields}` of a .format() template; None when the text is no valid template."""
    try:
        return Counter(name for _, name, _, _ in string.Formatter().parse(text) if name is not None)
    except ValueError:
        return None


def catalog_text(messages: list[Message], language: str | None = None,
                 translations: dict[str, str] | None = None) -> str:
    """The template (language None) or a language's catalog with `translations` filled in."""
    if language is None:
        head = HEADER.format(title="template", note="; do not edit", language="")
    else:
        head = HEADER.format(title=language, note="; translations by hand", language=language)
    blocks = [head]
    for message in messages:
        # Files without line numbers (xgettext's --add-location=file): moving a line is no change.
        files = dict.fromkeys(place.rsplit(":", 1)[0] for place in message.places)
        lines = [f"#: {' '.join(files)}"]
        if placeholders(message.msgid):
            lines.append("#, python-brace-format")
        lines += entry_lines("msgid", message.msgid)
        lines += entry_lines("msgstr", (translations or {}).get(message.msgid, ""))
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def catalog_problems(messages: list[Message], catalog: dict[str, str], name: str) -> list[str]:
    """Missing, empty, stale and mismatched translations of one language's catalog."""
    problems = []
    wanted = {m.msgid: m for m in messages}
    for msgid, message in wanted.items():
        if msgid not in catalog:
            problems.append(f"{name}: missing ({message.places[0]}): {msgid!r}")
        elif not catalog[msgid].strip():
            problems.append(f"{name}: not translated ({message.places[0]}): {msgid!r}")
        elif placeholders(catalog[msgid]) != placeholders(msgid):
            problems.append(f"{name}: the placeholders differ from the English: {msgid!r} -> "
                            f"{catalog[msgid]!r}")
        elif msgid[:1].isspace() != catalog[msgid][:1].isspace():
            problems.append(f"{name}: the English starts with a space and the translation must too "
                            f"(or the reverse): {msgid!r}")
    problems += [f"{name}: stale (no longer in the source): {msgid!r}" for msgid in catalog
                 if msgid not in wanted]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="write nothing; exit 1 on any problem")
    mode.add_argument("--merge", action="store_true", help="also update each <lang>.po")
    args = parser.parse_args(argv)

    messages, problems = extract()
    template = catalog_text(messages)
    if args.check:
        if not TEMPLATE.is_file() or TEMPLATE.read_text(encoding="utf-8") != template:
            problems.append(f"{TEMPLATE.name} is out of date: run python tools/extract_strings.py")
        for po in sorted(LOCALE_DIR.glob("*.po")):
            problems += catalog_problems(messages, read_po(po), po.name)
    else:
        TEMPLATE.write_text(template, encoding="utf-8")
        print(f"{TEMPLATE.relative_to(ROOT)}: {len(messages)} strings")
        for po in sorted(LOCALE_DIR.glob("*.po")) if args.merge else ():
            old = read_po(po)
            po.write_text(catalog_text(messages, po.stem, old), encoding="utf-8")
            todo = sum(1 for m in messages if not old.get(m.msgid, "").strip())
            gone = sum(1 for msgid in old if msgid not in {m.msgid for m in messages})
            print(f"{po.relative_to(ROOT)}: {todo} to translate, {gone} stale dropped")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
