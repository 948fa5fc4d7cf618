"""Customer-facing words through gettext: English in the source, other languages in .po files.

The catalogs are read straight from `locale/<lang>.po` (no compiled .mo to keep in step) into
a standard `gettext.NullTranslations` subclass, so `_()` is the usual gettext call and
`tools/extract_strings.py` finds every string. A test fails when a string in the source has
no translation, or a translation no string.

Only the kiosk's own words are here. Routine texts (names, titles, instructions) come from
the routine YAML files that staff write in their own language; the catalogs never touch them.
"""

from __future__ import annotations

import ast
import gettext
from pathlib import Path

from ..errors import KioskError

LOCALE_DIR = Path(__file__).with_name("locale")
SOURCE_LANGUAGE = "en"
# The decimal mark is the language's, not a translation: 38.0 °C in English, 38,0 °C in German.
DECIMAL_MARKS = {"de": ","}


class PoTranslations(gettext.NullTranslations):
    """A gettext catalog from a .po file; an empty translation falls back to the English."""

    def __init__(self, catalog: dict[str, str]):
        super().__init__()
        self.catalog = catalog

    def gettext(self, message: str) -> str:
        return self.catalog.get(message) or message


def read_po(path: Path) -> dict[str, str]:
    """msgid -> msgstr from a .po file (what the gettext tools write, less plurals and contexts).

    The header (the empty msgid) and obsolete `#~` entries are left out. PO strings use C
    escapes, which for what a .po holds (\\n, \\t, \\", \\\\) read the same as Python's.
    """
    catalog: dict[str, str] = {}
    part: list[str] | None = None
    msgid: list[str] = []
    msgstr: list[str] = []

    def flush() -> None:
        if "".join(msgid):
            catalog["".join(msgid)] = "".join(msgstr)

    # Lines end at "\n" only: a translation may hold other line separators (U+2028) as they are.
    for number, raw in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        line = raw.strip()
        try:
            if line.startswith("msgid "):
                flush()
                msgid, msgstr = [_po_string(line[6:])], []
                part = msgid
            elif line.startswith("msgstr "):
                msgstr = [_po_string(line[7:])]
                part = msgstr
            elif line.startswith('"') and part is not None:
                part.append(_po_string(line))
            elif line and not line.startswith("#"):
                raise ValueError(line)
        except (ValueError, SyntaxError):
            raise KioskError(f"{path}:{number}: cannot read this line of the catalog: {raw!r}; "
                             "check its quotes") from None
    flush()
    return catalog


def _po_string(text: str) -> str:
    value = ast.literal_eval(text)
    if not isinstance(value, str):
        raise ValueError(text)
    return value


def languages() -> tuple[str, ...]:
    """English (the source) and every language with a catalog."""
    return (SOURCE_LANGUAGE, *sorted(p.stem for p in LOCALE_DIR.glob("*.po")))


_current: gettext.NullTranslations = gettext.NullTranslations()
_language = SOURCE_LANGUAGE


def use_language(language: str) -> None:
    """Switch every later `_()` to `language` (English needs no catalog)."""
    global _current, _language
    if language == SOURCE_LANGUAGE:
        _current, _language = gettext.NullTranslations(), language
        return
    path = LOCALE_DIR / f"{language}.po"
    if not path.is_file():
        raise KioskError(f"no translation for language {language!r} (no {path.name}); "
                         f"check kiosk.language: one of {', '.join(languages())}")
    _current, _language = PoTranslations(read_po(path)), language


def language() -> str:
    return _language


def _(message: str) -> str:
    return _current.gettext(message)


def decimal_mark() -> str:
    """The language's decimal mark: 38.5 in English, 38,5 in German."""
    return DECIMAL_MARKS.get(_language, ".")
