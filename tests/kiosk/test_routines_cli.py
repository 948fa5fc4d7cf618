"""`footbath routines list|show|check|new|edit` (issue 2, section 5).

The commands are called directly for detailed checks and run as the real program in a
subprocess for exit codes. `edit` is driven by real editor programs: small Python scripts
set as $EDITOR that change the file they are given.
"""

import io
import json
import re
import shlex
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from kiosk.atomic import write_atomic
from kiosk.config import Bath, Config, Paths
from kiosk.errors import KioskError
from kiosk.routines_cli import (
    EXIT_INVALID,
    EXIT_OK,
    cmd_check,
    cmd_edit,
    cmd_list,
    cmd_new,
    cmd_show,
)
from routines.library import shipped_documents
from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]

MORNING = """\
# Morning wake-up, kept by the front desk.
id: morning
name: Morning wake-up
description: A short warm soak, then brisk strokes.
soak:
  target_c: 37.5
  duration_s: 420
steps:
  - title: Dry your feet
    say: Pat your feet dry, including between the toes.
    wait_for_tap: true
  - title: Top-of-foot strokes
    say: Stroke from the toes up to the ankle and back down.
    reps: 4
    rep_s: 6
    per_foot: true
"""
MORNING_TOTAL = "8 min 18 s"  # 420 s soak + 30 s counted for the prompt + 2 x 4 x 6 s

# Line numbers of MORNING, for the located errors.
TARGET_LINE, REP_S_LINE = 6, 15


@pytest.fixture
def routines_dir(tmp_path):
    return tmp_path / "routines"


@pytest.fixture
def config(routines_dir):
    return Config(paths=Paths(routines_dir=routines_dir))


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """Where `edit` keeps its copy, so a test can see that the copy is gone afterwards."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def write_routine(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def listed(config) -> tuple[list[list[str]], str]:
    out, err = io.StringIO(), io.StringIO()
    assert cmd_list(config, out=out, err=err) == EXIT_OK
    rows = [re.split(r"\s{2,}", line) for line in out.getvalue().splitlines()]
    return rows, err.getvalue()


@pytest.fixture
def config_file(tmp_path, routines_dir):
    path = tmp_path / "config.yaml"
    path.write_text(f"paths:\n  routines_dir: {routines_dir}\n  state_dir: {tmp_path / 'state'}\n")
    return path


# -- list ----------------------------------------------------------------------------------


def test_list_shows_every_shipped_routine_with_its_lengths(config):
    rows, err = listed(config)
    assert rows[0] == ["ID", "NAME", "SOURCE", "SOAK", "TOTAL"]
    assert [row[0] for row in rows[1:]] == ["classic", "evening", "gentle", "quick"]
    assert all(row[2] == "shipped" for row in rows[1:])
    # classic: 600 s soak, 30 s prompt, 2 x 4 x 10 s, 2 x 45 s, 2 x 6 x 6 s = 872 s.
    assert rows[1] == ["classic", "Classic soak and massage", "shipped", "38.0 C, 10 min", "14 min 32 s"]
    assert err == ""


def test_list_shows_a_local_routine_as_local(config, routines_dir):
    write_routine(routines_dir, "morning.yaml", MORNING)
    rows, err = listed(config)
    assert ["morning", "Morning wake-up", "local", "37.5 C, 7 min", MORNING_TOTAL] in rows
    assert err == ""


def test_a_local_override_shows_once_as_local(config, routines_dir):
    write_routine(routines_dir, "classic.yaml", MORNING.replace("id: morning", "id: classic"))
    rows, _ = listed(config)
    classic = [row for row in rows if row[0] == "classic"]
    assert classic == [["classic", "Morning wake-up", "local", "37.5 C, 7 min", MORNING_TOTAL]]


def test_list_names_files_kept_out_with_their_located_problems(config, routines_dir):
    bad = write_routine(routines_dir, "broken.yaml",
                        MORNING.replace("id: morning", "id: broken").replace("37.5", "45.0")
                        .replace("rep_s: 6", "rep_s: 0"))
    write_routine(routines_dir, "morning.yaml", MORNING)
    rows, err = listed(config)
    assert "morning" in [row[0] for row in rows] and "broken" not in [row[0] for row in rows]
    lines = err.strip().splitlines()
    assert lines[0] == "kept out, fix these (2):"
    assert lines[1].strip().startswith(f"{bad}:{TARGET_LINE}:13: soak.target_c: 45.0 is out of range")
    assert lines[2].strip().startswith(f"{bad}:{REP_S_LINE}:12: steps[2].rep_s: 0 is out of range")


def test_a_lowered_ceiling_keeps_hotter_routines_out(routines_dir):
    config = Config(paths=Paths(routines_dir=routines_dir), bath=Bath(ceiling_c=37.0))
    rows, err = listed(config)
    assert [row[0] for row in rows[1:]] == ["gentle"]  # 37.0 C; the others are hotter
    assert re.search(r"^  classic\.yaml:\d+:\d+: soak\.target_c: 38\.0 is out of range; "
                     r"allowed: a number from 30\.0 to 37\.0 C$", err, re.M)


@pytest.mark.processes
def test_list_runs_as_a_program(config_file, routines_dir):
    write_routine(routines_dir, "broken.yaml", "id: broken\n")
    result = run_cli("routines", "list", "--config", str(config_file))
    assert result.returncode == 0
    assert "classic" in result.stdout and "broken" not in result.stdout
    assert f"{routines_dir / 'broken.yaml'}:1:1: name: missing" in result.stderr


# -- show ----------------------------------------------------------------------------------


def test_show_walks_through_a_shipped_routine(config):
    out = io.StringIO()
    assert cmd_show(config, "classic", out=out) == EXIT_OK
    text = out.getvalue()
    assert text.startswith("Classic soak and massage (classic, shipped: classic.yaml)\n")
    assert "Soak: 38.0 C for 10 min\n" in text
    assert "  1. Dry your feet (waits for a tap)\n" in text
    assert "  2. Thumb walking (4 x 10 s, each foot)\n" in text
    assert "  3. Toe rotation (45 s, each foot)\n" in text
    assert "  4. Arch press (6 x 6 s, each foot)\n" in text
    assert text.rstrip().endswith("Total: 14 min 32 s after the water is warm")


def test_show_names_a_local_routines_file(config, routines_dir):
    path = write_routine(routines_dir, "morning.yaml", MORNING)
    out = io.StringIO()
    cmd_show(config, "morning", out=out)
    assert out.getvalue().startswith(f"Morning wake-up (morning, local: {path})\n")
    assert "  2. Top-of-foot strokes (4 x 6 s, each foot)\n" in out.getvalue()


@pytest.mark.processes
def test_show_an_unknown_routine(config, config_file):
    with pytest.raises(KioskError, match="no routine 'nope'; `footbath routines list`"):
        cmd_show(config, "nope")
    result = run_cli("--config", str(config_file), "routines", "show", "nope")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("footbath: no routine 'nope'")


# -- check ---------------------------------------------------------------------------------

PROBLEM_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<path>\S+): (?P<message>.+)$")


def check(config, *files):
    out, err = io.StringIO(), io.StringIO()
    status = cmd_check(config, [str(f) for f in files], out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def test_check_passes_a_valid_file(config, tmp_path):
    path = write_routine(tmp_path, "morning.yaml", MORNING)
    assert check(config, path) == (EXIT_OK, f"{path}: ok (morning: {MORNING_TOTAL})\n", "")


def test_check_passes_every_shipped_routine(config, tmp_path):
    paths = [write_routine(tmp_path, name, data.decode()) for name, data in shipped_documents()]
    status, out, err = check(config, *paths)
    assert (status, err) == (EXIT_OK, "")
    assert len(out.splitlines()) == len(paths)


def test_check_prints_every_problem_located(config, tmp_path):
    text = MORNING.replace("37.5", "45.0").replace("rep_s: 6", "rep_s: 0").replace(
        "name: Morning wake-up", "nmae: Morning wake-up")
    path = write_routine(tmp_path, "morning.yaml", text)
    status, out, err = check(config, path)
    assert (status, out) == (EXIT_INVALID, "")
    found = [PROBLEM_LINE.match(line).groupdict() for line in err.splitlines()]
    assert [(p["file"], int(p["line"]), int(p["col"]), p["path"]) for p in found] == [
        (str(path), 2, 1, "name"),  # missing, reported at the mapping
        (str(path), 3, 1, "nmae"),
        (str(path), TARGET_LINE, 13, "soak.target_c"),
        (str(path), REP_S_LINE, 12, "steps[2].rep_s"),
    ]
    assert "did you mean 'name'?" in found[1]["message"]
    assert "allowed: a number from 30.0 to 40.0 C" in found[2]["message"]


def test_check_applies_the_configs_ceiling(routines_dir, tmp_path):
    path = write_routine(tmp_path, "morning.yaml", MORNING)
    config = Config(paths=Paths(routines_dir=routines_dir), bath=Bath(ceiling_c=37.0))
    status, _, err = check(config, path)
    assert status == EXIT_INVALID
    assert err.startswith(f"{path}:{TARGET_LINE}:13: soak.target_c: 37.5 is out of range")


def test_check_refuses_two_files_with_one_id(config, tmp_path):
    first = write_routine(tmp_path, "a.yaml", MORNING)
    second = write_routine(tmp_path, "b.yaml", "\n" + MORNING)
    status, out, err = check(config, first, second)
    assert status == EXIT_INVALID
    assert out == f"{first}: ok (morning: {MORNING_TOTAL})\n"
    assert err == (f"{second}:3:5: id: 'morning' is also the id of {first}; "
                   "give each routine its own id\n")


def test_check_reports_a_missing_file(config, tmp_path):
    good = write_routine(tmp_path, "morning.yaml", MORNING)
    status, out, err = check(config, tmp_path / "nope.yaml", good)
    assert status == EXIT_INVALID
    assert err == f"{tmp_path / 'nope.yaml'}:1:1: (file): cannot read: No such file or directory\n"
    assert out.startswith(f"{good}: ok")


@pytest.mark.processes
def test_check_exit_statuses_as_a_program(config_file, tmp_path):
    good = write_routine(tmp_path, "good.yaml", MORNING)
    bad = write_routine(tmp_path, "bad.yaml", MORNING.replace("37.5", "45.0"))
    ok = run_cli("--config", str(config_file), "routines", "check", str(good))
    assert (ok.returncode, ok.stderr) == (0, "")
    invalid = run_cli("--config", str(config_file), "routines", "check", str(good), str(bad))
    assert invalid.returncode == 1
    assert invalid.stderr.startswith(f"{bad}:{TARGET_LINE}:13: soak.target_c: ")
    usage = run_cli("--config", str(config_file), "routines", "check")
    assert usage.returncode == 2
    assert "usage: footbath routines check" in usage.stderr
    assert "the following arguments are required: FILE" in usage.stderr


# -- new -----------------------------------------------------------------------------------


def test_new_writes_a_commented_template_that_passes_check(config, routines_dir):
    out = io.StringIO()
    assert cmd_new(config, "sunrise", out=out) == EXIT_OK
    path = routines_dir / "sunrise.yaml"
    assert out.getvalue() == f"created {path}; edit it with `footbath routines edit sunrise`\n"
    text = path.read_text()
    assert "id: sunrise\n" in text
    assert sum(line.lstrip().startswith("#") for line in text.splitlines()) >= 2
    assert text.count("  # ") >= 5  # the keys are explained where they stand
    assert check(config, path)[0] == EXIT_OK
    rows, err = listed(config)
    assert ("sunrise", "local") in [(row[0], row[2]) for row in rows]
    assert err == ""


def test_new_refuses_an_existing_local_id(config, routines_dir):
    original = write_routine(routines_dir, "wake.yaml", MORNING)  # id morning, another file name
    with pytest.raises(KioskError, match=rf"'morning' already exists in {re.escape(str(original))}"):
        cmd_new(config, "morning")
    assert sorted(p.name for p in routines_dir.iterdir()) == ["wake.yaml"]
    assert original.read_text() == MORNING


def test_new_refuses_a_shipped_id(config, routines_dir):
    with pytest.raises(KioskError, match=r"'classic' is a shipped routine.*routines edit classic"):
        cmd_new(config, "classic")
    assert not routines_dir.exists()


def test_new_refuses_a_file_that_is_already_there(config, routines_dir):
    broken = write_routine(routines_dir, "sunrise.yaml", "id: [\n")
    with pytest.raises(KioskError, match="already exists"):
        cmd_new(config, "sunrise")
    assert broken.read_text() == "id: [\n"


@pytest.mark.parametrize("bad_id", ["Morning", "-morning", "my routine", "", "x" * 33, "../evil",
                                    "morning.yaml", "morgen\u00e9"])
def test_new_refuses_a_bad_id(config, routines_dir, bad_id):
    with pytest.raises(KioskError, match="is not a routine id; use lower-case letters"):
        cmd_new(config, bad_id)
    assert not routines_dir.exists()


@pytest.mark.processes
def test_new_as_a_program_writes_where_the_config_says(config_file, routines_dir, tmp_path):
    result = run_cli("--config", str(config_file), "routines", "new", "sunrise", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (routines_dir / "sunrise.yaml").is_file()
    checked = run_cli("--config", str(config_file), "routines", "check",
                      str(routines_dir / "sunrise.yaml"))
    assert checked.returncode == 0, checked.stderr
    again = run_cli("--config", str(config_file), "routines", "new", "sunrise")
    assert again.returncode == 1
    assert "already exists" in again.stderr


# -- edit ----------------------------------------------------------------------------------

EDITOR_PRELUDE = """\
import json, re, sys
from pathlib import Path
copy = Path(sys.argv[-1])
here = Path(__file__).parent
log = here / (Path(__file__).stem + ".log.json")
calls = json.loads(log.read_text()) if log.exists() else []
text = copy.read_text()
header = [dict(line=int(m[1]), col=int(m[2]), path=m[3])
          for m in re.finditer(r"^# footbath: line (\\d+), column (\\d+): (\\S+): ", text, re.M)]
lines = text.splitlines()
for h in header:  # what the editor shows at the line the header names
    h["text"] = lines[h["line"] - 1]
calls.append(dict(file=str(copy), header=header, text=text))
log.write_text(json.dumps(calls))
"""


def make_editor(folder: Path, name: str, body: str) -> str:
    """A real editor program: it logs what it was given, then changes the file as `body` says."""
    script = folder / f"{name}.py"
    script.write_text(EDITOR_PRELUDE + body)
    return shlex.join([sys.executable, str(script)])


def editor_calls(folder: Path, name: str) -> list[dict]:
    log = folder / f"{name}.log.json"
    return json.loads(log.read_text()) if log.exists() else []


def replacing(old: str, new: str, *, when: str = "True") -> str:
    """Editor body: replace `old` by `new` when `when` holds (`calls` counts this call too)."""
    return f"if {when}:\n    copy.write_text(copy.read_text().replace({old!r}, {new!r}))\n"


class Answers:
    """Stands in for the person at the terminal: answers the prompts in turn."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.prompts = []

    def __call__(self, prompt):
        self.prompts.append(prompt)
        return self.answers.pop(0)


def edit(config, routine_id, ask=None):
    out = io.StringIO()
    status = cmd_edit(config, routine_id, ask=ask or Answers(), out=out)
    return status, out.getvalue()


@pytest.fixture
def editor(tmp_path, monkeypatch):
    """`editor(name, body)` sets $EDITOR (or `var`) to a new editor program; each program keeps
    a log of its calls in `editor.folder`, which also tells it how many times it has run."""
    folder = tmp_path / "editors"
    folder.mkdir()
    monkeypatch.delenv("VISUAL", raising=False)

    def use(name: str, body: str, var: str = "EDITOR") -> str:
        command = make_editor(folder, name, body)
        monkeypatch.setenv(var, command)
        return command

    use.folder = folder
    return use


def test_edit_replaces_the_file_and_keeps_the_previous_version(config, routines_dir, editor, scratch):
    path = write_routine(routines_dir, "morning.yaml", MORNING)
    during = routines_dir.parent / "during.txt"  # the real file, as it was while editing
    editor("ed", replacing("duration_s: 420", "duration_s: 480")
           + f"Path({str(during)!r}).write_text(Path({str(path)!r}).read_text())\n")
    status, out = edit(config, "morning")
    assert status == EXIT_OK
    assert path.read_text() == MORNING.replace("duration_s: 420", "duration_s: 480")
    assert (routines_dir / "morning.yaml.bak").read_text() == MORNING
    assert out.splitlines() == [f"previous version kept as {path}.bak", f"saved {path}"]
    (call,) = editor_calls(editor.folder, "ed")
    assert call["file"] != str(path)  # the editor works on a copy...
    assert Path(call["file"]).parent == scratch
    assert call["text"] == MORNING
    assert during.read_text() == MORNING  # ...and the real file is untouched meanwhile
    assert list(scratch.iterdir()) == []  # the copy is removed
    assert sorted(p.name for p in routines_dir.iterdir()) == ["morning.yaml", "morning.yaml.bak"]


def test_edit_keeps_the_files_permissions(config, routines_dir, editor, scratch):
    path = write_routine(routines_dir, "morning.yaml", MORNING)
    path.chmod(0o640)
    editor("ed", replacing("duration_s: 420", "duration_s: 480"))
    assert edit(config, "morning")[0] == EXIT_OK
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert stat.S_IMODE((routines_dir / "morning.yaml.bak").stat().st_mode) == 0o640


def test_visual_comes_before_editor(config, routines_dir, editor, scratch):
    path = write_routine(routines_dir, "morning.yaml", MORNING)
    editor("visual", replacing("duration_s: 420", "duration_s: 480"), var="VISUAL")
    editor("plain", "sys.exit(9)\n")
    assert edit(config, "morning")[0] == EXIT_OK
    assert "duration_s: 480" in path.read_text()
    assert editor_calls(editor.folder, "plain") == []


def test_editing_a_shipped_routine_makes_a_local_override(config, routines_dir, editor, scratch):
    shipped = dict(shipped_documents())["classic.yaml"].decode()
    editor("ed", replacing("duration_s: 600", "duration_s: 900"))
    status, out = edit(config, "classic")
    assert status == EXIT_OK
    path = routines_dir / "classic.yaml"
    assert out == f"saved {path}\n"  # nothing previous to keep
    assert path.read_text() == shipped.replace("duration_s: 600", "duration_s: 900")
    assert sorted(p.name for p in routines_dir.iterdir()) == ["classic.yaml"]
    assert editor_calls(editor.folder, "ed")[0]["text"] == shipped
    rows, _ = listed(config)
    assert [row for row in rows if row[0] == "classic"] == [
        ["classic", "Classic soak and massage", "local", "38.0 C, 15 min", "19 min 32 s"]]


def test_an_unchanged_file_is_not_saved(config, routines_dir, editor, scratch):
    path = write_routine(routines_dir, "morning.yaml", MORNING)
    before = path.stat()
    editor("noop", "")
    assert edit(config, "morning") == (EXIT_OK, "no changes; nothing saved\n")
    assert path.read_text() == MORNING
    assert path.stat().st_ino == before.st_ino  # not even rewritten
    assert sorted(p.name for p in routines_dir.iterdir()) == ["morning.yaml"]


def test_an_unchanged_shipped_routine_makes_no_override(config, routines_dir, editor, scratch):
    editor("noop", "")
    assert edit(config, "quick") == (EXIT_OK, "no changes; nothing saved\n")
    assert list(routines_dir.iterdir()) == []


def test_errors_reopen_the_editor_with_them_on_top_until_fixed(config, routines_dir, editor, scratch):
    path = write_routine(routines_dir, "morning.yaml", MORNING)
    # First call breaks two values; the second fixes them (state kept in the editor's log).
    editor("fixer", replacing("target_c: 37.5", "target_c: 45.0", when="len(calls) == 1")
           + replacing("rep_s: 6", "rep_s: 0", when="len(calls) == 1")
           + replacing("\n  target_c: 45.0", "\n  target_c: 38.5", when="len(calls) == 2")
           + replacing("\n    rep_s: 0", "\n    rep_s: 7", when="len(calls) == 2"))
    answers = Answers("e")
    status, out = edit(config, "morning", ask=answers)
    assert status == EXIT_OK
    assert answers.prompts == ["Errors found. (e)dit again or (a)bandon your changes? [e] "]
    first, second = editor_calls(editor.folder, "fixer")
    assert first["header"] == []
    # The header names the lines as the editor shows them, header included.
    assert [(h["path"], h["text"].strip()) for h in second["header"]] == [
        ("soak.target_c", "target_c: 45.0"), ("steps[2].rep_s", "rep_s: 0")]
    assert [h["col"] for h in second["header"]] == [13, 12]
    for h in second["header"]:
        assert h["text"][h["col"] - 1:].startswith(("45.0", "0"))
    saved = path.read_text()
    assert saved == MORNING.replace("target_c: 37.5", "target_c: 38.5").replace("rep_s: 6", "rep_s: 7")
    assert "# footbath:" not in saved
    assert (routines_dir / "morning.yaml.bak").read_text() == MORNING
    # The errors were also printed, against the real file's own line numbers.
    assert f"{path}:{TARGET_LINE}:13: soak.target_c: 45.0 is out of range" in out
    assert f"{path}:{REP_S_LINE}:12: steps[2].rep_s: 0 is out of range" in out
    assert out.rstrip().endswith(f"saved {path}")


def test_a_yaml_syntax_error_is_located_in_the_editors_view(config, routines_dir, editor, scratch):
    path = write_routine(routines_dir, "morning.yaml", MORNING)
    broken = MORNING.replace("  duration_s: 420\n", "  duration_s: [420\n")
    editor("syntax", replacing(MORNING, broken, when="len(calls) == 1"))
    status, out = edit(config, "morning", ask=Answers("e", "a"))
    assert status == EXIT_INVALID
    # PyYAML notices the unclosed list some lines later; the header names that same line.
    printed = re.findall(rf"^{re.escape(str(path))}:(\d+):\d+: \(file\): not valid YAML", out, re.M)
    assert len(printed) == 2, out  # once per failed attempt
    second = editor_calls(editor.folder, "syntax")[1]
    (problem,) = second["header"]
    assert problem["path"] == "(file)"
    assert problem["text"] == broken.splitlines()[int(printed[0]) - 1]
    assert problem["line"] > int(printed[0])  # shifted by the header above the body


def test_abandoning_leaves_the_file_as_it_was(config, routines_dir, editor, scratch):
    path = write_routine(routines_dir, "morning.yaml", MORNING)
    editor("breaker", replacing("target_c: 37.5", "target_c: 45.0", when="len(calls) == 1"))
    answers = Answers("e", "a")
    status, out = edit(config, "morning", ask=answers)
    assert status == EXIT_INVALID
    assert len(answers.prompts) == 2 and len(editor_calls(editor.folder, "breaker")) == 2
    assert out.rstrip().endswith(f"abandoned; {path} is unchanged")
    assert path.read_text() == MORNING
    assert sorted(p.name for p in routines_dir.iterdir()) == ["morning.yaml"]
    assert list(scratch.iterdir()) == []


def test_an_edit_keeps_the_routines_id(config, routines_dir, editor, scratch):
    path = write_routine(routines_dir, "morning.yaml", MORNING)
    write_routine(routines_dir, "zz-other.yaml", MORNING.replace("id: morning", "id: other"))
    editor("renamer", replacing("id: morning", "id: other"))
    status, out = edit(config, "morning", ask=Answers("a"))
    assert status == EXIT_INVALID
    assert f"{path}:2:5: id: changed from 'morning' to 'other'" in out
    assert path.read_text() == MORNING
    assert len(editor_calls(editor.folder, "renamer")) == 1  # abandoned at the first prompt


def test_a_broken_local_file_can_be_fixed_with_edit(config, routines_dir, editor, scratch):
    broken = MORNING.replace("37.5", "45.0")
    path = write_routine(routines_dir, "morning.yaml", broken)
    editor("fix", replacing("target_c: 45.0", "target_c: 37.0"))
    assert edit(config, "morning")[0] == EXIT_OK
    assert path.read_text() == MORNING.replace("37.5", "37.0")
    assert (routines_dir / "morning.yaml.bak").read_text() == broken
    assert "morning" in [row[0] for row in listed(config)[0]]


def test_edit_an_unknown_routine(config, editor, scratch):
    editor("never", "")
    with pytest.raises(KioskError, match="no routine 'nope'; create it with `footbath routines new nope`"):
        edit(config, "nope")
    assert editor_calls(editor.folder, "never") == []


def test_a_failing_editor_saves_nothing(config, routines_dir, editor, scratch):
    path = write_routine(routines_dir, "morning.yaml", MORNING)
    editor("crash", "copy.write_text('garbage')\nsys.exit(3)\n")
    with pytest.raises(KioskError, match="the editor exited with status 3; nothing saved"):
        edit(config, "morning")
    assert path.read_text() == MORNING
    assert list(scratch.iterdir()) == []


def test_a_missing_editor_is_named(config, routines_dir, monkeypatch, scratch):
    write_routine(routines_dir, "morning.yaml", MORNING)
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", "no-such-editor-here --wait")
    with pytest.raises(KioskError, match="editor 'no-such-editor-here --wait' not found"):
        edit(config, "morning")


# -- edit as a program: answers on stdin ---------------------------------------------------


@pytest.fixture
def program_editor(tmp_path):
    folder = tmp_path / "editors"
    folder.mkdir()
    return folder


@pytest.mark.processes
def test_edit_as_a_program_fixes_after_errors(config_file, routines_dir, program_editor, tmp_path):
    path = write_routine(routines_dir, "morning.yaml", MORNING)
    command = make_editor(program_editor, "fixer",
                          replacing("target_c: 37.5", "target_c: 45.0", when="len(calls) == 1")
                          + replacing("\n  target_c: 45.0", "\n  target_c: 39.0", when="len(calls) == 2"))
    (tmp_path / "tmp").mkdir()
    result = run_cli("--config", str(config_file), "routines", "edit", "morning", input="e\n",
                     env_extra={"EDITOR": command, "TMPDIR": str(tmp_path / "tmp")})
    assert result.returncode == 0, result.stderr
    assert path.read_text() == MORNING.replace("37.5", "39.0")
    assert (routines_dir / "morning.yaml.bak").read_text() == MORNING
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.processes
@pytest.mark.parametrize("stdin", ["a\n", "abandon\n", ""], ids=["a", "abandon", "end-of-input"])
def test_edit_as_a_program_abandons(config_file, routines_dir, program_editor, stdin):
    path = write_routine(routines_dir, "morning.yaml", MORNING)
    command = make_editor(program_editor, "breaker", replacing("target_c: 37.5", "target_c: 45.0"))
    result = run_cli("--config", str(config_file), "routines", "edit", "morning", input=stdin,
                     env_extra={"EDITOR": command})
    assert result.returncode == 1
    assert f"abandoned; {path} is unchanged" in result.stdout
    assert "Traceback" not in result.stderr
    assert path.read_text() == MORNING
    assert len(editor_calls(program_editor, "breaker")) == 1


# -- write_atomic, which `new` and `edit` save through ---------------------------------------

FILL_DISK = """\
import errno, resource, signal, sys
from pathlib import Path
from kiosk.atomic import write_atomic
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))  # the disk "fills" after 4 KiB
try:
    write_atomic(Path(sys.argv[1]), b"new content " * 10_000)
except OSError as exc:
    print(errno.errorcode[exc.errno])
"""


def test_write_atomic_replaces_the_file(tmp_path):
    path = tmp_path / "morning.yaml"
    path.write_text("old")
    write_atomic(path, b"new", mode=0o640)
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["morning.yaml"]


@pytest.mark.processes
def test_a_write_failing_half_way_leaves_the_old_file(tmp_path):
    path = tmp_path / "morning.yaml"
    path.write_text(MORNING)
    result = subprocess.run([sys.executable, "-c", FILL_DISK, str(path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert (result.stdout, result.stderr) == ("EFBIG\n", "")
    assert path.read_text() == MORNING
    assert [p.name for p in tmp_path.iterdir()] == ["morning.yaml"]  # no temp file left


def test_a_write_that_raises_leaves_the_old_file(tmp_path):
    path = tmp_path / "morning.yaml"
    path.write_text(MORNING)
    with pytest.raises(TypeError):
        write_atomic(path, "text, not bytes")  # raises inside the write itself
    assert path.read_text() == MORNING
    assert [p.name for p in tmp_path.iterdir()] == ["morning.yaml"]


def test_write_atomic_into_a_missing_folder_creates_nothing(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_atomic(tmp_path / "missing" / "morning.yaml", b"new")
    assert list(tmp_path.iterdir()) == []
