"""Languages (issue 5 section 2): every customer-facing string goes through gettext, and a
string that is untranslated, stale or has the wrong placeholders fails here.

When this fails after a change of wording: run `python tools/extract_strings.py --merge`,
then translate the new entries in kiosk/ui/locale/<lang>.po.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk import config
from kiosk.errors import KioskError
from kiosk.ui import i18n
from kiosk.ui.i18n import _, read_po, use_language

ROOT = Path(__file__).resolve().parents[3]
TOOL = ROOT / "tools" / "extract_strings.py"


def load_tool():
    spec = importlib.util.spec_from_file_location("extract_strings", TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


tool = load_tool()
MESSAGES, PROBLEMS = tool.extract()
CATALOGS = sorted(i18n.LOCALE_DIR.glob("*.po"))


@pytest.fixture
def language():
    """Switch the language for one test, and back to English after it."""
    yield use_language
    use_language("en")


# -- the guard -------------------------------------------------------------------------------------


def test_every_gettext_call_is_a_literal_and_nothing_hides_the_gettext_function():
    assert PROBLEMS == []


def test_the_source_has_the_kiosks_words():
    found = {m.msgid for m in MESSAGES}
    assert len(found) > 50
    assert {"Stop", "Pause", "Next", "The water is at {temp}. Put your feet in, then tap Start."} <= found


def test_german_is_shipped_and_is_a_language_of_the_config():
    assert [p.stem for p in CATALOGS] == ["de"]
    assert set(i18n.languages()) == set(config.LANGUAGES)


@pytest.mark.parametrize("po", CATALOGS, ids=lambda p: p.name)
def test_every_string_in_the_source_is_translated(po):
    catalog = read_po(po)
    untranslated = [f"{m.places[0]}: {m.msgid!r}" for m in MESSAGES if not catalog.get(m.msgid, "").strip()]
    assert untranslated == [], f"{po.name} lacks translations; run tools/extract_strings.py --merge"


@pytest.mark.parametrize("po", CATALOGS, ids=lambda p: p.name)
def test_no_catalog_keeps_strings_the_source_no_longer_has(po):
    source = {m.msgid for m in MESSAGES}
    assert [msgid for msgid in read_po(po) if msgid not in source] == []


@pytest.mark.parametrize("po", CATALOGS, ids=lambda p: p.name)
def test_placeholders_and_leading_spaces_match_the_english(po):
    assert tool.catalog_problems(MESSAGES, read_po(po), po.name) == []


def test_the_template_is_up_to_date():
    assert (i18n.LOCALE_DIR / "footbath.pot").read_text(encoding="utf-8") == tool.catalog_text(MESSAGES)


@pytest.mark.processes
def test_the_check_command_passes_on_this_tree():
    done = subprocess.run([sys.executable, str(TOOL), "--check"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr


# -- what the guard catches --------------------------------------------------------------------------


def test_the_catalog_check_names_each_kind_of_mistake():
    messages = [tool.Message("Step {i} of {n}", ["a.py:1"]), tool.Message("Stop", ["a.py:2"]),
                tool.Message("Pause", ["a.py:3"]), tool.Message(" (gentle)", ["a.py:4"])]
    catalog = {"Step {i} of {n}": "Schritt {i} von {m}", "Stop": " ", "Gone": "Weg",
               " (gentle)": "(sanft)"}
    problems = "\n".join(tool.catalog_problems(messages, catalog, "de.po"))
    assert "placeholders differ" in problems and "Schritt {i} von {m}" in problems
    assert "not translated (a.py:2): 'Stop'" in problems
    assert "missing (a.py:3): 'Pause'" in problems
    assert "stale (no longer in the source): 'Gone'" in problems
    assert "starts with a space" in problems


def test_extraction_reads_literals_and_format_templates_and_refuses_the_rest(tmp_path):
    (tmp_path / "screen.py").write_text(
        "from .i18n import _\n"
        "a = _('Hello')\n"
        "b = _('Step {i} of {n}').format(i=1, n=2)\n"
        "c = _('A long sentence '\n"
        "      'in two parts.')\n"
        "d = _('Hello')\n"
        "e = _(a)\n"
        "f = _(f'{a} there')\n"
        "def on_pre_enter(self, *_):\n"
        "    return _('Hidden')\n"
        "for x, _ in []:\n"
        "    pass\n"
        "def on_leave(self, *_):\n"  # binds `_` but never calls it: harmless
        "    return None\n", encoding="utf-8")
    (tmp_path / "other.py").write_text("for x, _ in []:\n    pass\n", encoding="utf-8")  # no gettext here
    messages, problems = tool.extract(tmp_path)
    assert [(m.msgid, m.places) for m in messages] == [
        ("Hello", ["screen.py:2", "screen.py:6"]), ("Step {i} of {n}", ["screen.py:3"]),
        ("A long sentence in two parts.", ["screen.py:4"]), ("Hidden", ["screen.py:10"])]
    assert [p.split(": ")[0] for p in problems] == ["screen.py:9", "screen.py:11", "screen.py:7",
                                                    "screen.py:8"]


def test_merge_keeps_translations_adds_new_strings_and_drops_stale_ones(tmp_path):
    messages = [tool.Message("Stop", ["a.py:1"]), tool.Message("Pause", ["a.py:2"])]
    text = tool.catalog_text(messages, "de", {"Stop": "Stopp", "Gone": "Weg"})
    po = tmp_path / "de.po"
    po.write_text(text, encoding="utf-8")
    assert read_po(po) == {"Stop": "Stopp", "Pause": ""}
    assert "Language: de" in text and "#: a.py\n" in text


# -- reading the catalogs ------------------------------------------------------------------------------

PIECES = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from(
    [" ", "  ", "\n", "\t", '"', "\\", "{n}", "°C", "…", "word ", "a longer word "])
TEXT = st.lists(PIECES, min_size=1, max_size=80).map("".join)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=5, unique_by=lambda p: p[0]))
def test_what_the_tool_writes_the_kiosk_reads_back_exactly(tmp_path_factory, pairs):
    messages = [tool.Message(msgid, ["x.py:1"]) for msgid, _ in pairs]
    text = tool.catalog_text(messages, "de", dict(pairs))
    # Wrapped wherever a space allows: only a piece without one may be longer.
    assert all(len(line) <= tool.WIDTH or " " not in line[1:-1].rstrip(" ")
               for line in text.split("\n") if line.startswith('"'))
    po = tmp_path_factory.mktemp("po") / "de.po"
    po.write_text(text, encoding="utf-8")
    assert read_po(po) == dict(pairs)


def test_the_header_and_obsolete_entries_are_not_translations(tmp_path):
    po = tmp_path / "de.po"
    po.write_text('msgid ""\nmsgstr ""\n"Language: de\\n"\n\n'
                  '#~ msgid "Old"\n#~ msgstr "Alt"\n\n'
                  'msgid ""\n"Two "\n"lines"\nmsgstr "Zwei Zeilen"\n', encoding="utf-8")
    assert read_po(po) == {"Two lines": "Zwei Zeilen"}


@pytest.mark.parametrize("text, line", [('msgid "Stop"\nmsgstr "Stopp\n', 2),
                                        ('msgid "Stop"\nmsgstr 42\n', 2),
                                        ('\n\nmsgid Stop\n', 3),
                                        ('msgid "Stop"\nmsgstr[0] "Stopp"\n', 2)])
def test_a_broken_catalog_line_is_located(tmp_path, text, line):
    po = tmp_path / "de.po"
    po.write_text(text, encoding="utf-8")
    with pytest.raises(KioskError, match=rf"de\.po:{line}: cannot read this line"):
        read_po(po)


# -- switching ----------------------------------------------------------------------------------------


def test_german_translates_and_english_is_the_source(language):
    assert _("Stop") == "Stop"
    language("de")
    assert _("Stop") == "Stopp"
    assert _("Step {i} of {n}").format(i=2, n=5) == "Schritt 2 von 5"
    assert _("Not a kiosk string") == "Not a kiosk string"  # unknown: the English shows
    language("en")
    assert _("Stop") == "Stop"


def test_every_german_translation_differs_from_the_english_where_german_differs(language):
    language("de")
    catalog = read_po(i18n.LOCALE_DIR / "de.po")
    same = sorted(msgid for msgid, text in catalog.items() if text == msgid)
    # Words German shares with English; anything else equal to the English was forgotten.
    assert same == ["Pause", "Phase: {phase}", "Start"]


def test_an_unknown_language_is_refused_with_the_ones_there_are(language):
    with pytest.raises(KioskError, match=r"kiosk.language: one of en, de"):
        language("fr")


def test_the_decimal_mark_is_the_languages(language):
    assert i18n.decimal_mark() == "."
    language("de")
    assert i18n.decimal_mark() == ","
    assert i18n.language() == "de"
