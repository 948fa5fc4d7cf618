"""The session journal (kiosk/journal.py): a real SQLite file in a temporary state dir.

Sessions, samples, faults, staff actions and cleanings are written by the real controller on
the simulated bath (driven read by read); the schema's versioning, retention, batching and
storage failures are checked on the journal itself; and a real writer process is killed with
SIGKILL at random moments to show that a committed session is never lost.
"""

import itertools
import math
import os
import random
import selectors
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from kiosk import journal as journal_module
from kiosk.config import parse_config
from kiosk.errors import KioskError
from kiosk.journal import FILE_NAME, FLUSH_EVERY, MAX_PENDING, MIGRATIONS, SAMPLE_EVERY_S, Journal
from kiosk.service import Service
from kiosk.staff_pins import PinStore
from tests.helpers import Clock
from tests.kiosk.simulated import drive

ROOT = Path(__file__).resolve().parents[2]
DAY_S = 86400.0
T0 = 1_700_000_000.0  # a fixed wall clock for journals written directly
SHORT = """\
id: short
name: Short one
description: A one-minute soak and one step.
soak: {target_c: 37.0, duration_s: 60}
steps:
  - {title: Rest, say: Sit back and breathe slowly., duration_s: 10}
"""


def tables(db) -> set[str]:
    return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def rows(path: Path, sql: str, args=()) -> list[tuple]:
    """Read with a connection of its own, as another process would."""
    db = sqlite3.connect(path)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


# -- the file and its schema ----------------------------------------------------------------

def test_a_new_journal_is_sqlite_in_wal_mode_at_the_current_schema(tmp_path):
    state = tmp_path / "state"
    journal = Journal(state)  # the state dir is made when missing
    try:
        assert journal.path == state / FILE_NAME
        assert journal.db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert journal.db.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
        assert journal.db.execute("PRAGMA foreign_keys").fetchone() == (1,)
        assert journal.db.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
        assert tables(journal.db) >= {"sessions", "samples", "faults", "staff_actions", "cleanings"}
    finally:
        journal.close()
    # Opening it again changes nothing and keeps what was there.
    again = Journal(state)
    assert again.db.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
    again.close()


def test_an_old_journal_is_migrated_and_keeps_its_rows(tmp_path, monkeypatch):
    clock = Clock(T0)
    journal = Journal(tmp_path, wall=clock)
    sid = journal.session_started("classic", "Classic", "standard", 38.0)
    journal.session_ended(sid, "done")
    journal.close()

    # The next version of footbath adds a column and a table.
    v2 = "ALTER TABLE sessions ADD COLUMN note TEXT NOT NULL DEFAULT '';" \
         "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
    monkeypatch.setattr(journal_module, "MIGRATIONS", (*MIGRATIONS, v2))
    with pytest.raises(KioskError, match=r"older schema 1, this footbath reads 2; let the service start"):
        Journal(tmp_path, readonly=True)  # `footbath history` never migrates

    migrated = Journal(tmp_path, wall=clock)
    assert migrated.db.execute("PRAGMA user_version").fetchone() == (2,)
    assert "settings" in tables(migrated.db)
    assert migrated.db.execute("SELECT id, routine, outcome, note FROM sessions").fetchall() == [
        (sid, "classic", "done", "")]
    migrated.close()
    Journal(tmp_path, readonly=True).db.close()  # now it reads


def test_a_migration_that_fails_changes_nothing(tmp_path, monkeypatch):
    journal = Journal(tmp_path)
    journal.staff_action("anna", "clean")
    journal.close()
    broken = "CREATE TABLE extra (x INTEGER); ALTER TABLE no_such_table ADD COLUMN y"
    monkeypatch.setattr(journal_module, "MIGRATIONS", (*MIGRATIONS, broken))
    with pytest.raises(KioskError, match=r"cannot open the journal .*no such table"):
        Journal(tmp_path)
    path = tmp_path / FILE_NAME
    assert rows(path, "PRAGMA user_version") == [(1,)]
    assert "extra" not in {r[0] for r in rows(path, "SELECT name FROM sqlite_master")}
    assert rows(path, "SELECT who, action FROM staff_actions") == [("anna", "clean")]


def test_a_journal_from_a_newer_footbath_is_refused_untouched(tmp_path):
    Journal(tmp_path).close()
    path = tmp_path / FILE_NAME
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=7")
    db.close()
    for readonly in (False, True):
        with pytest.raises(KioskError, match=r"written by a newer footbath \(schema 7.*update footbath"):
            Journal(tmp_path, readonly=readonly)
    assert rows(path, "PRAGMA user_version") == [(7,)]


def test_the_service_runs_on_without_a_journal_it_cannot_use(tmp_path):
    """A journal from a newer version must not keep the bath from working: the reason is shown."""
    Journal(tmp_path / "state").close()
    db = sqlite3.connect(tmp_path / "state" / FILE_NAME)
    db.execute("PRAGMA user_version=7")
    db.close()
    with running_service(tmp_path) as service:
        status = service.controller.status()
        assert "newer footbath" in status["journal_error"]
        service.controller.handle("start", {"routine": "short", "profile": "standard"})
        drive(service, lambda s: s["phase"] == "soaking")


def test_history_on_no_journal_says_so(tmp_path):
    with pytest.raises(KioskError, match=r"no journal yet at .*no session has been recorded"):
        Journal(tmp_path, readonly=True)


def test_a_path_with_uri_characters_is_read(tmp_path):
    state = tmp_path / "odd?dir#1 %20"
    journal = Journal(state)
    journal.session_started("classic", "Classic", "standard", 38.0)
    journal.close()
    reader = Journal(state, readonly=True)
    assert [r.routine for r in reader.sessions()] == ["classic"]
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.db.execute("DELETE FROM sessions")
    reader.db.close()


# -- what the controller writes ---------------------------------------------------------------

class running_service:
    """An in-process service on the simulated bath, driven read by read (no real-time loop)."""

    def __init__(self, tmp_path: Path, water_c: float = 37.0, extra: str = "", seed: int = 0):
        self.tmp_path = tmp_path
        self.water_c, self.extra, self.seed = water_c, extra, seed

    def __enter__(self) -> Service:
        routines = self.tmp_path / "routines"
        routines.mkdir(exist_ok=True)
        (routines / "short.yaml").write_text(SHORT)
        self.sock_dir = tempfile.mkdtemp(prefix="fb")
        config = parse_config(
            f"paths:\n  routines_dir: {routines}\n  state_dir: {self.tmp_path / 'state'}\n"
            f"  socket: {self.sock_dir}/api.sock\n{self.extra}", str(self.tmp_path / "config.yaml"))
        self.service = Service(config, simulate=True, water_c=self.water_c, seed=self.seed)
        return self.service

    def __exit__(self, *exc) -> None:
        self.service.close()
        shutil.rmtree(self.sock_dir, ignore_errors=True)


def sessions(service: Service) -> list[tuple]:
    return rows(service.controller.journal.path,
                "SELECT id, routine, routine_name, profile, target_c, started_at, ended_at, outcome "
                "FROM sessions ORDER BY id")


def test_a_session_that_runs_to_the_end_is_recorded_done_with_its_samples_every_5_s(tmp_path):
    with running_service(tmp_path) as service:
        journal = service.controller.journal
        service.controller.handle("start", {"routine": "short", "profile": "standard"})
        started_s = service.sim.now_s
        [(sid, *_)] = sessions(service)
        assert rows(journal.path, "SELECT outcome, ended_at FROM sessions") == [(None, None)]  # running
        status = drive(service, lambda s: s["phase"] == "done")
        ended_s = service.sim.now_s
        graph = service.controller.op_samples()
        [record] = sessions(service)

    wall0 = record[5] - started_s  # the simulated bath's wall clock runs with its time
    assert record == (sid, "short", "Short one", "standard", 37.0, pytest.approx(wall0 + started_s),
                      pytest.approx(wall0 + ended_s), "done")
    assert status["cleaning_needed"]

    samples = rows(journal.path, "SELECT at, water_c, heater FROM samples WHERE session_id=? ORDER BY at",
                   (sid,))
    # Every sample taken during the session is in the journal (the last batch is written at the end).
    assert len(samples) == len(graph) >= (ended_s - started_s) // 6
    assert [round(at - record[5], 1) for at, *_ in samples] == [t for t, _ in graph]
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(samples)]
    max_read_s = service.sim.bath.params.read_outlier_s
    assert all(SAMPLE_EVERY_S - 1e-6 <= gap <= SAMPLE_EVERY_S + max_read_s + 1e-6 for gap in gaps), gaps
    assert all(34.0 < water_c < 38.0 for _, water_c, _ in samples)  # the feet cool it a little
    assert {heater for *_, heater in samples} <= {0, 1}
    assert record[5] <= samples[0][0] and samples[-1][0] <= record[6]


def test_samples_are_written_in_batches_not_one_transaction_each(tmp_path):
    with running_service(tmp_path) as service:
        journal = service.controller.journal
        statements: list[str] = []
        journal.db.set_trace_callback(statements.append)
        service.controller.handle("start", {"routine": "short", "profile": "gentle"})
        drive(service, lambda s: s["phase"] == "done")
        count = rows(journal.path, "SELECT COUNT(*) FROM samples")[0][0]

    transactions, current = [], None
    for statement in statements:
        if statement.startswith("BEGIN"):
            current = []
            transactions.append(current)
        elif current is not None:
            current.append(statement)
    with_samples = [t for t in transactions if any("INSERT INTO samples" in s for s in t)]
    assert count > FLUSH_EVERY
    assert len(with_samples) == math.ceil(count / FLUSH_EVERY)
    # plus the session's start, its end and the retention pruning that follows the end
    assert len(transactions) == len(with_samples) + 3


def test_a_batch_is_invisible_until_it_is_full(tmp_path):
    clock = Clock(T0)
    journal = Journal(tmp_path, wall=clock)
    sid = journal.session_started("classic", "Classic", "standard", 38.0)
    count = lambda: rows(journal.path, "SELECT COUNT(*) FROM samples")[0][0]  # noqa: E731
    for n in range(FLUSH_EVERY - 1):
        clock.now += SAMPLE_EVERY_S
        journal.sample(sid, 30.0 + n / 16, n % 2 == 0)
    assert count() == 0
    journal.sample(sid, 31.0, True)
    assert count() == FLUSH_EVERY
    journal.sample(sid, 31.5, False)
    journal.session_ended(sid, "stopped")  # the rest goes with the session's end
    assert count() == FLUSH_EVERY + 1
    journal.sample(None, 30.0, False)  # no session: nothing to keep
    journal.close()
    assert count() == FLUSH_EVERY + 1


@pytest.mark.parametrize("outcome", ["stopped", "fault", "interrupted"])
def test_every_way_a_session_ends_is_recorded(tmp_path, outcome):
    with running_service(tmp_path, extra="session: {idle_off_s: 10}\n") as service:
        c = service.controller
        c.handle("start", {"routine": "short", "profile": "gentle"})
        drive(service, lambda s: s["phase"] == "soaking")
        [(sid, *_)] = sessions(service)
        if outcome == "stopped":
            c.handle("stop", {})
        elif outcome == "fault":
            service.sim.bath.unplug_sensor()
            drive(service, lambda s: s["faults"], confirm=False)
        else:
            pass  # the service stops with the session running
    [record] = sessions(service)
    assert record[0] == sid and record[7] == outcome
    assert record[1:5] == ("short", "Short one", "gentle", 37.0)
    assert record[6] >= record[5]
    faults = rows(c.journal.path, "SELECT session_id, code, message FROM faults")
    if outcome == "fault":
        [(fault_sid, code, message)] = faults
        assert fault_sid == sid and code and "check" in message.lower()
    else:
        assert faults == []


def test_faults_staff_actions_and_cleanings_say_who_and_when(tmp_path):
    PinStore(tmp_path / "state").set("anna", "1234")
    with running_service(tmp_path, extra="cleaning: {contact_s: 60}\n") as service:
        c = service.controller
        c.handle("start", {"routine": "short", "profile": "standard"})
        drive(service, lambda s: s["phase"] == "soaking")
        service.sim.bath.unplug_sensor()
        drive(service, lambda s: s["faults"], confirm=False)
        service.sim.bath.plug_sensor()
        drive(service, lambda s: s["water_c"] is not None, confirm=False)
        c.handle("ack_fault", {"pin": "1234"})
        c.handle("heater_off", {})

        assert c.status()["cleaning_needed"]
        clean_started_s = service.sim.now_s
        c.handle("clean", {"pin": "1234", "action": "start"})
        c.handle("clean", {"pin": "1234", "action": "next"})  # drained
        c.handle("clean", {"pin": "1234", "action": "next"})  # scrubbed: the contact time starts
        contact_from_s = service.sim.now_s
        drive(service, lambda s: service.sim.now_s - contact_from_s >= 60, confirm=False)
        c.handle("clean", {"pin": "1234", "action": "next"})  # disinfected
        status = c.handle("clean", {"pin": "1234", "action": "next"})  # rinsed: done
        finished_s = service.sim.now_s
        journal = c.journal
        wall0 = journal.wall() - service.sim.now_s
    assert not status["cleaning_needed"]

    [(code, sid, acked_at, acked_by)] = rows(
        journal.path, "SELECT code, session_id, acknowledged_at, acknowledged_by FROM faults")
    assert sid is not None and acked_by == "anna" and acked_at is not None
    actions = rows(journal.path, "SELECT who, action, detail FROM staff_actions ORDER BY id")
    assert actions[0] == ("anna", "ack_fault", code)
    assert any("heater-off" in " ".join(action) for action in actions[1:])
    [(who, started_at, finished_at, contact_s)] = rows(
        journal.path, "SELECT who, started_at, finished_at, contact_s FROM cleanings")
    assert (who, contact_s) == ("anna", 60)
    assert started_at == pytest.approx(wall0 + clean_started_s)
    assert finished_at == pytest.approx(wall0 + finished_s)
    assert finished_at - started_at >= 60


# -- retention ---------------------------------------------------------------------------------

def fill_history(journal: Journal, clock: Clock, days: list[float]) -> dict[float, int]:
    """One session (with samples, a fault, a staff action and a cleaning) on each day, counted
    from the clock's time now."""
    ids, base = {}, clock.now
    for day in days:
        clock.now = base + day * DAY_S
        sid = journal.session_started("classic", "Classic", "standard", 38.0)
        for n in range(FLUSH_EVERY):
            journal.sample(sid, 37.0 + n / 16, True)
        journal.fault(sid, "sensor_missing", "no sensor; check the probe's plug")
        journal.session_ended(sid, "fault")
        journal.staff_action("anna", "ack_fault", "sensor_missing")
        journal.cleaning(clock.now, "anna", 600)
        ids[day] = sid
    return ids


def test_rows_older_than_keep_days_are_pruned_with_their_samples(tmp_path):
    clock = Clock(T0)
    journal = Journal(tmp_path, wall=clock)
    ids = fill_history(journal, clock, [0, 100, 200, 250])
    clock.now = T0 + 260 * DAY_S
    journal.prune(keep_days=100)  # keeps day 160 onwards
    kept = {ids[200], ids[250]}
    assert {r.id for r in journal.sessions()} == kept
    assert {r[0] for r in journal.db.execute("SELECT session_id FROM samples")} == kept
    assert journal.db.execute("SELECT COUNT(*) FROM samples").fetchone() == (2 * FLUSH_EVERY,)
    assert {r[0] for r in journal.db.execute("SELECT session_id FROM faults")} == kept
    assert journal.db.execute("SELECT COUNT(*) FROM staff_actions").fetchone() == (2,)
    assert [c.finished_at for c in journal.cleanings()] == [T0 + 200 * DAY_S, T0 + 250 * DAY_S]
    journal.close()


def test_the_service_prunes_to_the_configured_days_when_it_starts(tmp_path):
    clock = Clock(time.time() - 400 * DAY_S)
    journal = Journal(tmp_path / "state", wall=clock)
    ids = fill_history(journal, clock, [0, 390])  # 400 and 10 days ago
    journal.close()
    with running_service(tmp_path, extra="journal: {keep_days: 30}\n") as service:
        assert [r.id for r in service.controller.journal.sessions()] == [ids[390]]


# -- storage failures ---------------------------------------------------------------------------

def test_a_full_card_is_reported_until_there_is_space_again(tmp_path):
    clock = Clock(T0)
    journal = Journal(tmp_path, wall=clock)
    sid = journal.session_started("classic", "Classic", "standard", 38.0)
    pages = journal.db.execute("PRAGMA page_count").fetchone()[0]
    journal.db.execute(f"PRAGMA max_page_count={pages}")  # no room for one more page
    journal.staff_action("anna", "note", "x" * 20_000)
    assert "database or disk is full" in journal.error and "free space" in journal.error
    for n in range(3 * FLUSH_EVERY):
        journal.sample(sid, 37.0 + n / 100, True)
    journal.db.execute("PRAGMA max_page_count=1000000")  # space again
    journal.session_ended(sid, "done")
    assert journal.error is None
    assert journal.db.execute("SELECT COUNT(*) FROM samples").fetchone() == (3 * FLUSH_EVERY,)
    journal.close()


def test_a_read_only_card_keeps_the_newest_samples_bounded(tmp_path):
    journal = Journal(tmp_path)
    sid = journal.session_started("classic", "Classic", "standard", 38.0)
    journal.db.execute("PRAGMA query_only=ON")  # every write now fails, as on a read-only card
    for n in range(MAX_PENDING + 5 * FLUSH_EVERY):
        journal.sample(sid, n / 10, False)
    assert "cannot be written" in journal.error
    assert len(journal._pending) == MAX_PENDING
    journal.db.execute("PRAGMA query_only=OFF")
    journal.flush()
    stored = [r[0] for r in journal.db.execute("SELECT water_c FROM samples ORDER BY at, rowid")]
    last = (MAX_PENDING + 5 * FLUSH_EVERY - 1) / 10
    assert stored[-1] == last and len(stored) == MAX_PENDING  # the newest are kept
    journal.close()


def test_a_session_goes_on_when_the_journal_cannot_be_written(tmp_path):
    with running_service(tmp_path) as service:
        c = service.controller
        c.journal.db.execute("PRAGMA query_only=ON")
        c.handle("start", {"routine": "short", "profile": "standard"})
        status = drive(service, lambda s: s["phase"] == "soaking")
        assert "the journal cannot be written" in status["journal_error"]
        assert drive(service, lambda s: s["phase"] == "done")["faults"] == []


# -- kill -9 at any moment ------------------------------------------------------------------------

WRITER = """
import random, sys
from pathlib import Path
from kiosk.journal import Journal

journal = Journal(Path(sys.argv[1]))
print("interrupted", *journal.mark_interrupted(), flush=True)
rng = random.Random(int(sys.argv[2]))
while True:
    sid = journal.session_started("classic", "Classic", rng.choice(["standard", "gentle"]), 38.0)
    if sid is None:
        sys.exit(f"not written: {journal.error}")
    print("started", sid, flush=True)
    for _ in range(rng.randrange(30)):
        journal.sample(sid, 30 + rng.random() * 8, rng.random() < 0.5)
    if rng.random() < 0.3:
        journal.fault(sid, "no_reading", "no valid reading; check the probe")
    outcome = rng.choice(["done", "stopped", "fault"])
    journal.session_ended(sid, outcome)
    if journal.error:
        sys.exit(journal.error)
    print("ended", sid, outcome, flush=True)
    if rng.random() < 0.2:
        journal.cleaning(journal.wall() - 700, "anna", 600)
        journal.staff_action("anna", "clean")
"""


def read_lines(proc: subprocess.Popen, wanted: int, deadline_s: float = 60.0) -> list[str]:
    """Lines from the writer until `wanted` sessions have ended (never blocks past the deadline)."""
    lines, buffer = [], b""
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    give_up = time.monotonic() + deadline_s
    fd = proc.stdout.fileno()
    while sum(line.startswith("ended") for line in lines) < wanted:
        if not selector.select(timeout=max(0.0, give_up - time.monotonic())):
            raise AssertionError(f"the writer stalled; it said {lines[-3:]}")
        chunk = os.read(fd, 65536)
        if not chunk:
            raise AssertionError(f"the writer ended: {proc.wait()} {proc.stderr.read()!r}")
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        lines += [c.decode() for c in complete]
    selector.close()
    return lines


@pytest.mark.processes
def test_a_committed_session_survives_kill_9_at_any_moment(tmp_path):
    rng = random.Random(4)
    started: dict[int, str | None] = {}  # every session the writer said it committed -> outcome
    for round_ in range(8):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(round_)], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            lines = read_lines(proc, wanted=rng.randint(1, 40))
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait(timeout=30) == -signal.SIGKILL
            lines += proc.stdout.read().decode().splitlines()  # printed before it died: committed
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()

        # What the previous round left running is now interrupted.
        interrupted = {int(i) for i in lines[0].split()[1:]}
        unfinished = {sid for sid, outcome in started.items() if outcome is None}
        assert unfinished <= interrupted
        for sid in unfinished:
            started[sid] = "interrupted"
        for line in lines[1:]:
            word, sid, *rest = line.split()
            started[int(sid)] = rest[0] if word == "ended" else None

        path = tmp_path / FILE_NAME
        db = sqlite3.connect(path)
        try:
            assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert db.execute("PRAGMA foreign_key_check").fetchall() == []
            stored = dict(db.execute("SELECT id, outcome FROM sessions").fetchall())
        finally:
            db.close()
        for sid, outcome in started.items():
            assert sid in stored, f"session {sid} was committed, then lost"
            if outcome is None:  # it may have ended in the instant before the kill, unreported
                started[sid] = stored[sid]
            else:
                assert stored[sid] == outcome, (sid, outcome)
    assert sum(outcome is not None for outcome in started.values()) >= 5
