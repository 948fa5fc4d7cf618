"""The session journal: SQLite in the state dir, for staff, inspectors and the owner.

WAL with synchronous=FULL, so a committed session survives kill -9 and a power cut.
Temperature samples are batched (one write a minute rather than one every 5 s) to spare
the SD card. A journal that cannot be written (disk full, read-only card) never stops a
session: the error is kept and reported in `status`, and writing is retried later.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from .errors import KioskError

FILE_NAME = "journal.sqlite3"
OUTCOMES = ("done", "stopped", "fault", "interrupted")
SAMPLE_EVERY_S = 5.0
FLUSH_EVERY = 12  # samples per batch: one write a minute
MAX_PENDING = 720  # an hour of samples held while the card cannot be written

MIGRATIONS = (
    # 1: the first schema
    """
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        routine TEXT NOT NULL,
        routine_name TEXT NOT NULL,
        profile TEXT NOT NULL,
        target_c REAL NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL,
        outcome TEXT CHECK (outcome IN ('done', 'stopped', 'fault', 'interrupted'))
    );
    CREATE INDEX sessions_started ON sessions (started_at);
    CREATE TABLE samples (
        session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        at REAL NOT NULL,
        water_c REAL,
        heater INTEGER NOT NULL
    );
    CREATE INDEX samples_session ON samples (session_id, at);
    CREATE TABLE faults (
        id INTEGER PRIMARY KEY,
        session_id INTEGER REFERENCES sessions (id) ON DELETE SET NULL,
        at REAL NOT NULL,
        code TEXT NOT NULL,
        message TEXT NOT NULL,
        acknowledged_at REAL,
        acknowledged_by TEXT
    );
    CREATE TABLE staff_actions (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        who TEXT NOT NULL,
        action TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE cleanings (
        id INTEGER PRIMARY KEY,
        started_at REAL NOT NULL,
        finished_at REAL NOT NULL,
        who TEXT NOT NULL,
        contact_s INTEGER NOT NULL,
        note TEXT NOT NULL DEFAULT ''
    );
    """,
)


@dataclass(frozen=True)
class SessionRecord:
    id: int
    routine: str
    routine_name: str
    profile: str
    target_c: float
    started_at: float
    ended_at: float | None
    outcome: str | None
    peak_c: float | None
    mean_c: float | None
    samples: int


@dataclass(frozen=True)
class CleaningRecord:
    id: int
    started_at: float
    finished_at: float
    who: str
    contact_s: int
    note: str


class Journal:
    """One SQLite file. Methods that record never raise for a storage failure: they keep it."""

    def __init__(self, state_dir: Path, *, wall: Callable[[], float] = time.time,
                 readonly: bool = False):
        self.path = Path(state_dir) / FILE_NAME
        self.wall = wall
        self.error: str | None = None
        self._pending: list[tuple] = []
        self._lock = threading.Lock()
        if readonly:
            self._open_readonly()
            return
        self.db: sqlite3.Connection | None = None
        try:
            Path(state_dir).mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None,
                                      check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except (OSError, sqlite3.Error, KioskError) as exc:
            if self.db is not None:
                self.db.close()
            if isinstance(exc, KioskError):
                raise
            raise KioskError(f"cannot open the journal {self.path}: {exc}; check that the state "
                             "dir exists, is writable and has free space") from None

    def _open_readonly(self) -> None:
        """For the staff's `footbath history`: never writes, never migrates."""
        if not self.path.exists():
            raise KioskError(f"no journal yet at {self.path}: no session has been recorded")
        try:
            # A URI, so that mode=ro holds; the path is quoted (a '?' or '#' in it is no option).
            self.db = sqlite3.connect(f"file:{quote(str(self.path.resolve()))}?mode=ro", uri=True,
                                      timeout=5.0)
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as exc:
            raise KioskError(f"cannot read the journal {self.path}: {exc}; check its permissions "
                             "(staff need to be in the footbath group)") from None
        if version > len(MIGRATIONS):
            self.db.close()
            raise KioskError(f"the journal {self.path} was written by a newer footbath (schema "
                             f"{version}, this one reads {len(MIGRATIONS)}); update footbath")
        if version < len(MIGRATIONS):
            self.db.close()
            raise KioskError(f"the journal {self.path} has the older schema {version}, this footbath "
                             f"reads {len(MIGRATIONS)}; let the service start once to update it")

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise KioskError(f"the journal {self.path} was written by a newer footbath "
                             f"(schema {version}); update footbath")
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for statement in filter(str.strip, script.split(";")):
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version={number}")
            except sqlite3.Error:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def _record(self, write: Callable[[], object]) -> object | None:
        """Run one write transaction; keep a storage failure as `error` instead of raising it."""
        with self._lock:
            try:
                self.db.execute("BEGIN IMMEDIATE")
                result = write()
                self.db.execute("COMMIT")
            except sqlite3.Error as exc:
                self.error = (f"the journal cannot be written ({exc}); check that the card has free "
                              "space and is not read-only")
                with contextlib.suppress(sqlite3.Error):
                    self.db.execute("ROLLBACK")
                return None
            self.error = None
            return result

    def close(self) -> None:
        self.flush()
        self.db.close()

    # -- sessions ----------------------------------------------------------------------

    def mark_interrupted(self) -> list[int]:
        """After a crash or power loss: unfinished sessions become 'interrupted'."""
        rows = self.db.execute("SELECT id FROM sessions WHERE outcome IS NULL").fetchall()
        now = self.wall()
        self._record(lambda: self.db.execute(
            "UPDATE sessions SET outcome='interrupted', ended_at=? WHERE outcome IS NULL", (now,)))
        return [r[0] for r in rows]

    def session_started(self, routine: str, routine_name: str, profile: str, target_c: float) -> int | None:
        def write():
            cur = self.db.execute(
                "INSERT INTO sessions (routine, routine_name, profile, target_c, started_at) "
                "VALUES (?, ?, ?, ?, ?)", (routine, routine_name, profile, target_c, self.wall()))
            return cur.lastrowid
        return self._record(write)  # type: ignore[return-value]

    def session_ended(self, session_id: int | None, outcome: str) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        self.flush()
        if session_id is None:
            return
        self._record(lambda: self.db.execute(
            "UPDATE sessions SET outcome=?, ended_at=? WHERE id=? AND outcome IS NULL",
            (outcome, self.wall(), session_id)))

    def sample(self, session_id: int | None, water_c: float | None, heater: bool) -> None:
        if session_id is None:
            return
        self._pending.append((session_id, self.wall(), water_c, int(heater)))
        if len(self._pending) >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        batch = list(self._pending)
        if self._record(lambda: self.db.executemany(
                "INSERT INTO samples (session_id, at, water_c, heater) VALUES (?, ?, ?, ?)", batch)):
            self._pending.clear()
        else:  # kept for the next try, but bounded: the newest samples matter most
            del self._pending[:-MAX_PENDING]

    # -- faults, staff, cleaning ---------------------------------------------------------

    def fault(self, session_id: int | None, code: str, message: str) -> None:
        self._record(lambda: self.db.execute(
            "INSERT INTO faults (session_id, at, code, message) VALUES (?, ?, ?, ?)",
            (session_id, self.wall(), code, message)))

    def faults_acknowledged(self, who: str) -> None:
        self._record(lambda: self.db.execute(
            "UPDATE faults SET acknowledged_at=?, acknowledged_by=? WHERE acknowledged_at IS NULL",
            (self.wall(), who)))

    def staff_action(self, who: str, action: str, detail: str = "") -> None:
        self._record(lambda: self.db.execute(
            "INSERT INTO staff_actions (at, who, action, detail) VALUES (?, ?, ?, ?)",
            (self.wall(), who, action, detail)))

    def cleaning(self, started_at: float, who: str, contact_s: int, note: str = "") -> None:
        self._record(lambda: self.db.execute(
            "INSERT INTO cleanings (started_at, finished_at, who, contact_s, note) "
            "VALUES (?, ?, ?, ?, ?)", (started_at, self.wall(), who, contact_s, note)))

    def prune(self, keep_days: int) -> None:
        """Bounded retention: forget what is older than keep_days."""
        cutoff = self.wall() - keep_days * 86400

        def write():
            self.db.execute("DELETE FROM sessions WHERE started_at < ?", (cutoff,))
            self.db.execute("DELETE FROM faults WHERE at < ?", (cutoff,))
            self.db.execute("DELETE FROM staff_actions WHERE at < ?", (cutoff,))
            self.db.execute("DELETE FROM cleanings WHERE finished_at < ?", (cutoff,))
        self._record(write)

    # -- reading -------------------------------------------------------------------------

    def sessions(self, since: float | None = None) -> list[SessionRecord]:
        rows = self.db.execute(
            """SELECT s.id, s.routine, s.routine_name, s.profile, s.target_c, s.started_at,
                      s.ended_at, s.outcome, MAX(p.water_c), AVG(p.water_c), COUNT(p.at)
               FROM sessions s LEFT JOIN samples p ON p.session_id = s.id
               WHERE s.started_at >= ? GROUP BY s.id ORDER BY s.started_at, s.id""",
            (since if since is not None else float("-inf"),)).fetchall()
        return [SessionRecord(*row) for row in rows]

    def cleanings(self, since: float | None = None) -> list[CleaningRecord]:
        rows = self.db.execute(
            "SELECT id, started_at, finished_at, who, contact_s, note FROM cleanings "
            "WHERE finished_at >= ? ORDER BY finished_at, id",
            (since if since is not None else float("-inf"),)).fetchall()
        return [CleaningRecord(*row) for row in rows]

    def last_session_end(self) -> float | None:
        row = self.db.execute("SELECT MAX(ended_at) FROM sessions").fetchone()
        return row[0]

    def last_cleaning(self) -> float | None:
        row = self.db.execute("SELECT MAX(finished_at) FROM cleanings").fetchone()
        return row[0]
