"""`footbath routines ...`: list, show, check, create and edit routines over SSH."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from routines import LOCAL, Library, Problem, Routine, RoutineError, format_duration, load_library
from routines.library import duplicate_id_error
from routines.model import ID_PATTERN
from routines.schema import parse_routine
from routines.yamldoc import parse

from .atomic import write_atomic
from .config import Config
from .errors import KioskError

EXIT_OK, EXIT_INVALID = 0, 1
ERROR_MARK = "# footbath:"  # lines `edit` puts on top of a file; removed before saving

TEMPLATE = """\
# A footbath routine. Check it with: footbath routines check {file}
# Every key is explained in `footbath routines --help`; limits are checked for you.
id: {id}
name: My routine                    # up to 40 characters, shown on the home screen
description: A warm soak, then a short massage.   # one line, up to 120 characters
soak:
  target_c: 38.0                    # water temperature, 30.0 up to the ceiling (40.0 at most)
  duration_s: 600                   # soak length in seconds, 60 to 1800
  additives: Half a cup of Epsom salts per gallon of water.   # optional
  bubbles: false                    # optional: air pump on during the soak
steps:                              # 1 to 30 steps, in order
  - title: Dry your feet            # up to 32 characters
    say: Lift your feet out onto the towel and pat them dry. Tap Next when you are ready.
    wait_for_tap: true              # a prompt: waits for a tap
    illustration: dry
  - title: Thumb walking
    say: Walk your thumbs in tiny steps along the sole, from the heel up to the toes.
    reps: 4                         # a paced step: reps of rep_s seconds each
    rep_s: 10
    per_foot: true                  # runs for the left foot, then the right
    illustration: thumb_walk
  - title: Toe rotation
    say: Circle each toe gently three times each way, starting with the big toe.
    duration_s: 45                  # a timed step, 5 to 900 seconds
    per_foot: true
    illustration: toe_rotation
"""


def library_for(config: Config) -> Library:
    return load_library(config.paths.routines_dir, ceiling_c=config.bath.ceiling_c)


def cmd_list(config: Config, out=sys.stdout, err=sys.stderr) -> int:
    library = library_for(config)
    rows = [("ID", "NAME", "SOURCE", "SOAK", "TOTAL")]
    for entry in library:
        r = entry.routine
        rows.append((r.id, r.name, entry.source,
                     f"{r.soak.target_c:.1f} C, {format_duration(r.soak.duration_s)}",
                     format_duration(r.length_s)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip(), file=out)
    if library.problems:
        print(f"\nkept out, fix these ({len(library.problems)}):", file=err)
        for problem in library.problems:
            print(f"  {problem}", file=err)
    return EXIT_OK


def describe(routine: Routine, source: str, file: str) -> str:
    lines = [
        f"{routine.name} ({routine.id}, {source}: {file})",
        routine.description,
        "",
        f"Soak: {routine.soak.target_c:.1f} C for {format_duration(routine.soak.duration_s)}"
        + (", bubbles" if routine.soak.bubbles else "")
        + (f", vibration {routine.soak.vibration_pct} %" if routine.soak.vibration_pct else ""),
    ]
    if routine.soak.additives:
        lines.append(f"      {routine.soak.additives}")
    lines.append("Steps:")
    for i, step in enumerate(routine.steps, 1):
        if step.wait_for_tap:
            pace = "waits for a tap"
        elif step.reps is not None:
            pace = f"{step.reps} x {step.rep_s:g} s"
        else:
            pace = format_duration(step.duration_s or 0)
        if step.per_foot:
            pace += ", each foot"
        lines.append(f"  {i}. {step.title} ({pace})")
        lines.append(f"     {step.say}")
    lines.append(f"Total: {format_duration(routine.length_s)} after the water is warm")
    return "\n".join(lines)


def cmd_show(config: Config, routine_id: str, out=sys.stdout) -> int:
    library = library_for(config)
    try:
        entry = library.entries[routine_id]
    except KeyError:
        raise KioskError(f"no routine {routine_id!r}; `footbath routines list` shows them") from None
    print(describe(entry.routine, entry.source, entry.file), file=out)
    return EXIT_OK


def cmd_check(config: Config, files: list[str], out=sys.stdout, err=sys.stderr) -> int:
    status = EXIT_OK
    ids: dict[str, str] = {}
    for name in files:
        try:
            data = Path(name).read_bytes()
            routine = parse_routine(data, name, ceiling_c=config.bath.ceiling_c)
        except OSError as exc:
            print(f"{name}:1:1: (file): cannot read: {exc.strerror}", file=err)
            status = EXIT_INVALID
            continue
        except RoutineError as exc:
            print(exc, file=err)
            status = EXIT_INVALID
            continue
        if routine.id in ids:
            print(duplicate_id_error(data, name, routine.id, ids[routine.id]), file=err)
            status = EXIT_INVALID
            continue
        ids[routine.id] = name
        print(f"{name}: ok ({routine.id}: {format_duration(routine.length_s)})", file=out)
    return status


def cmd_new(config: Config, routine_id: str, out=sys.stdout) -> int:
    if not re.fullmatch(ID_PATTERN, routine_id):
        raise KioskError(f"{routine_id!r} is not a routine id; use lower-case letters, digits, "
                         "- and _, up to 32 characters, like 'morning'")
    folder = config.paths.routines_dir
    path = folder / f"{routine_id}.yaml"
    library = library_for(config)
    existing = library.entries.get(routine_id)
    if existing and existing.source == LOCAL:
        raise KioskError(f"routine {routine_id!r} already exists in {existing.file}; "
                         f"use `footbath routines edit {routine_id}`")
    if existing:
        # A blank template under a shipped id would silently replace that routine on the screen.
        raise KioskError(f"routine {routine_id!r} is a shipped routine; choose another id, or "
                         f"change it with `footbath routines edit {routine_id}` (a local copy)")
    if path.exists():
        raise KioskError(f"{path} already exists; choose another id or edit that file")
    _ensure_dir(folder)
    _save(path, TEMPLATE.format(id=routine_id, file=path).encode())
    print(f"created {path}; edit it with `footbath routines edit {routine_id}`", file=out)
    return EXIT_OK


def _ensure_dir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KioskError(f"cannot create the routines dir {folder}: {exc.strerror}") from None


def _save(path: Path, data: bytes, mode: int = 0o644) -> None:
    try:
        write_atomic(path, data, mode=mode)
    except OSError as exc:
        raise KioskError(f"cannot write {path}: {exc.strerror}; check the routines dir's "
                         "permissions and free space") from None


def cmd_edit(config: Config, routine_id: str, *, ask=input, out=sys.stdout) -> int:
    """Edit a copy, validate, reopen with the errors on top; replace atomically (like visudo)."""
    library = library_for(config)
    entry = library.entries.get(routine_id)
    local = next((p for p in library.problems if Path(p.file).stem == routine_id), None)
    if entry and entry.source == LOCAL:
        target = Path(entry.file)
    elif local is not None:
        target = Path(local.file)  # a broken local file: let staff fix it
    elif entry:
        target = config.paths.routines_dir / f"{routine_id}.yaml"  # a local copy of a shipped one
        if target.exists():
            raise KioskError(f"{target} holds another routine; rename that file, then edit "
                             f"{routine_id!r} again")
    else:
        raise KioskError(f"no routine {routine_id!r}; create it with `footbath routines new {routine_id}`")
    try:
        original = target.read_bytes() if target.exists() else _shipped_bytes(entry)
        mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    except OSError as exc:
        raise KioskError(f"cannot read {target}: {exc.strerror}; check its permissions") from None
    _ensure_dir(target.parent)

    fd, tmp_name = tempfile.mkstemp(prefix=f"{routine_id}.", suffix=".yaml")
    os.close(fd)
    copy = Path(tmp_name)
    try:
        copy.write_bytes(original)
        while True:
            _run_editor(copy)
            try:
                body = strip_error_header(copy.read_bytes())
            except FileNotFoundError:
                raise KioskError(f"the editor removed the copy it was editing; {target} "
                                 "is unchanged") from None
            if body == original:
                print("no changes; nothing saved", file=out)
                return EXIT_OK
            try:
                _validate(body, str(target), routine_id, config.bath.ceiling_c)
            except RoutineError as exc:
                copy.write_bytes(error_header(exc, body, str(target)) + body)
                print(exc, file=out)
                try:
                    answer = ask("Errors found. (e)dit again or (a)bandon your changes? [e] ")
                except EOFError:  # no one to answer (stdin closed): never save a broken file
                    print(file=out)
                    answer = "a"
                if answer.strip().lower().startswith("a"):
                    print(f"abandoned; {target} is unchanged", file=out)
                    return EXIT_INVALID
                continue
            if target.exists():
                backup = target.with_name(target.name + ".bak")
                _save(backup, target.read_bytes(), mode)  # what is there now, as visudo does
                print(f"previous version kept as {backup}", file=out)
            _save(target, body, mode)
            print(f"saved {target}", file=out)
            return EXIT_OK
    finally:
        copy.unlink(missing_ok=True)


def _validate(body: bytes, file: str, routine_id: str, ceiling_c: float) -> None:
    """The routine must be valid and keep its id: the file name and other files rely on it."""
    routine = parse_routine(body, file, ceiling_c=ceiling_c)
    if routine.id != routine_id:
        at = parse(body, file).entries["id"][1]
        raise RoutineError.from_problems([Problem(
            file, at.line, at.col, "id",
            f"changed from {routine_id!r} to {routine.id!r}; an edit keeps the id (make a new "
            f"routine with `footbath routines new {routine.id}`)")])


def _shipped_bytes(entry) -> bytes:
    from routines.library import shipped_documents

    return dict(shipped_documents())[entry.file]


def error_header(exc: RoutineError, body: bytes, file: str) -> bytes:
    """Comment lines listing the problems, with line numbers as the editor will show them."""
    problems = exc.problems or ()
    shift = len(problems) + 2
    lines = [f"{ERROR_MARK} this file has errors; fix them and save (you may also abandon)."]
    for p in problems:
        message = " ".join(p.message.split())  # one line each, or the shift above would be wrong
        lines.append(f"{ERROR_MARK} line {p.line + shift}, column {p.col}: {p.path}: {message}")
    lines.append(f"{ERROR_MARK} (these lines are removed when the file is saved)")
    return ("\n".join(lines) + "\n").encode()


def strip_error_header(data: bytes) -> bytes:
    lines = data.splitlines(keepends=True)
    while lines and lines[0].startswith(ERROR_MARK.encode()):
        lines.pop(0)
    return b"".join(lines)


def _run_editor(path: Path) -> None:
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or _default_editor()
    try:
        result = subprocess.run([*shlex.split(editor), str(path)], check=False)
    except FileNotFoundError:
        raise KioskError(f"editor {editor!r} not found; set $EDITOR, e.g. EDITOR=nano") from None
    if result.returncode != 0:
        raise KioskError(f"the editor exited with status {result.returncode}; nothing saved")


def _default_editor() -> str:
    for name in ("sensible-editor", "nano", "vi"):
        if shutil.which(name):
            return name
    raise KioskError("no editor found; set $EDITOR, e.g. EDITOR=nano")
