"""The routines on offer: the shipped set plus the files staff keep in the routines dir.

A local file overrides a shipped routine with the same id. A bad local file is kept out and
its problems are reported; when an earlier load had a good version from the same file, that
version stays in use, so a typo made while a customer waits never takes a routine away.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .errors import Problem, RoutineError
from .model import CEILING_C, Routine
from .schema import parse_routine
from .yamldoc import DOCUMENT, MAX_BYTES, parse

SHIPPED = "shipped"
LOCAL = "local"
SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Entry:
    routine: Routine
    source: str  # SHIPPED or LOCAL
    file: str


@dataclass(frozen=True)
class Library:
    entries: dict[str, Entry]
    problems: tuple[Problem, ...] = ()

    def get(self, routine_id: str) -> Routine:
        try:
            return self.entries[routine_id].routine
        except KeyError:
            known = ", ".join(self.entries) or "none"
            raise RoutineError(f"no routine {routine_id!r}; known routines: {known}") from None

    def __iter__(self):
        return iter(self.entries.values())


def shipped_documents() -> list[tuple[str, bytes]]:
    """(file name, contents) of the routines shipped as package data, in a stable order."""
    folder = resources.files(__package__) / SHIPPED
    files = sorted((f for f in folder.iterdir() if f.name.endswith(SUFFIXES)), key=lambda f: f.name)
    return [(f.name, f.read_bytes()) for f in files]


def local_files(routines_dir: Path | None) -> list[Path]:
    """The routine files staff keep: editor backups (`x.yaml.bak`, `x.yaml~`) and dotfiles
    (`.x.yaml.swp`, hidden copies) are not routines. Raises OSError when the dir cannot be read."""
    if routines_dir is None or not routines_dir.is_dir():
        return []
    return sorted(p for p in routines_dir.iterdir()
                  if p.name.endswith(SUFFIXES) and not p.name.startswith(".") and p.is_file())


def load_library(routines_dir: Path | None, *, ceiling_c: float = CEILING_C,
                 previous: Library | None = None) -> Library:
    """Every routine on offer, and every problem found on the way; never raises for a bad file."""
    ceiling_c = min(ceiling_c, CEILING_C)
    entries: dict[str, Entry] = {}
    problems: list[Problem] = []
    for name, data in shipped_documents():
        try:
            routine = parse_routine(data, name, ceiling_c=ceiling_c)
        except RoutineError as exc:
            problems.extend(exc.problems)
            continue
        entries[routine.id] = Entry(routine, SHIPPED, name)

    try:
        paths = local_files(routines_dir)
    except OSError as exc:
        paths = []
        problems.append(Problem(str(routines_dir), 1, 1, DOCUMENT, f"cannot read the routines dir: "
                                f"{exc.strerror}; check the path and its permissions"))
    # A good version loaded earlier stays while its file is broken, unless the ceiling has
    # since been lowered below it.
    kept_by_file = {e.file: e for e in previous or ()
                    if e.source == LOCAL and e.routine.soak.target_c <= ceiling_c}
    local_ids: dict[str, str] = {}
    for path in paths:
        file = str(path)
        try:
            data = _read(path, file)
            routine = parse_routine(data, file, ceiling_c=ceiling_c)
            if routine.id in local_ids:
                raise duplicate_id_error(data, file, routine.id, Path(local_ids[routine.id]).name)
        except RoutineError as exc:
            problems.extend(exc.problems)
            kept = kept_by_file.get(file)
            if kept and kept.routine.id not in local_ids:
                local_ids[kept.routine.id] = file
                entries[kept.routine.id] = kept
            continue
        local_ids[routine.id] = file
        entries[routine.id] = Entry(routine, LOCAL, file)
    return Library(entries, tuple(problems))


def _read(path: Path, file: str) -> bytes:
    """The file's bytes, reading no more than the size limit: a stray huge file must not fill
    the Pi's memory. An unreadable file is a problem like any other."""
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_BYTES + 1)
            size = os.fstat(stream.fileno()).st_size
    except OSError as exc:
        message = f"cannot read: {exc.strerror}; check its permissions"
    else:
        if len(data) <= MAX_BYTES:
            return data
        message = f"file is {size} bytes; at most {MAX_BYTES} bytes are allowed"
    raise RoutineError.from_problems([Problem(file, 1, 1, DOCUMENT, message)])


def duplicate_id_error(data: bytes, file: str, routine_id: str, other: str) -> RoutineError:
    """Two files with one id, located at this file's id (`other` names the first file)."""
    key = parse(data, file).entries["id"][1]
    return RoutineError.from_problems([Problem(
        file, key.line, key.col, "id",
        f"{routine_id!r} is also the id of {other}; give each routine its own id")])
