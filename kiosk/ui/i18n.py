"""Customer-facing words through gettext: English in the source, other languages in .po files.

The catalogs are read straight from `locale/<lang>.po` (no compiled .mo to keep in step), into
a standard `gettext.NullTranslations` subclass, so `_()` is the usual gettext call. A test
fails when a string in the source has no translation.
"""

from __future__ import annotations

import ast
import gettext
from pathlib import Path

LOCALE_DIR = Path(__file__).with_name("locale")
LANGUAGES = ("en", "de")


class PoTranslations(gettext.NullTranslations):
    def __init__(self, catalog: dict[str, str]):
        super().__init__()
        self.catalog = catalog

    def gettext(self, message: str) -> str:
        return self.catalog.get(message) or message


def read_po(path: Path) -> dict[str, str]:
    """msgid -> msgstr from a .po file (the subset gettext tools write: no plurals, no context)."""
    catalog: dict[str, str] = {}
    key: str | None = None
    msgid: list[str] = []
    msgstr: list[str] = []

    def flush() -> None:
        if msgid and "".join(msgid):
            catalog["".join(msgid)] = "".join(msgstr)

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("msgid "):
            flush()
            msgid, msgstr, key = [ast.literal_eval(line[6:])], [], "id"
        elif line.startswith("msgstr "):
            msgstr, key = [ast.literal_eval(line[7:])], "str"
        elif line.startswith('"') and key:
            (msgid if key == "id" else msgstr).append(ast.literal_eval(line))
        elif not line or line.startswith("#"):
            key = None if not line else key
    flush()
    return catalog


_current: gettext.NullTranslations = gettext.NullTranslations()


def use_language(language: str) -> None:
    """Switch every later `_()` to `language` (English needs no catalog)."""
    global _current
    if language == "en":
        _current = gettext.NullTranslations()
        return
    path = LOCALE_DIR / f"{language}.po"
    _current = PoTranslations(read_po(path))


def _(message: str) -> str:
    return _current.gettext(message)
