"""The service as a real process: `python -m kiosk.cli serve --simulate`, killed with SIGKILL
mid-soak and restarted, stopped with SIGTERM, and fed a broken routine file mid-session; and
systemd's notify protocol (kiosk/watchdog.py) on real datagram sockets.

Nothing here sleeps: readiness is READY=1 on a NOTIFY_SOCKET the test binds, and every later
moment is a status pushed on the API's watch stream. Deadlines only stop a test that hangs.
"""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from kiosk.client import ApiError, Client
from kiosk.journal import FILE_NAME
from kiosk.watchdog import Watchdog

pytestmark = pytest.mark.processes  # real processes, killed and restarted

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_S = 60.0  # only a hung test waits this long

TINY = """\
id: tiny
name: {name}
description: A one-minute soak and one step.
soak: {{target_c: 37.0, duration_s: 60}}
steps:
  - {{title: Rest, say: Sit back and breathe slowly., duration_s: 20}}
"""


class Notify:
    """A NOTIFY_SOCKET as systemd binds it: every datagram is kept, in order."""

    def __init__(self, address: str):
        self.address = address  # a path, or @name for the abstract namespace
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.sock.settimeout(0.05)
        self.messages: list[str] = []
        self.changed = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._closed:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            with self.changed:
                self.messages.append(data.decode())
                self.changed.notify_all()

    def wait_for(self, message: str, after: int = 0) -> int:
        """The index of the first `message` at or after `after`."""
        give_up = time.monotonic() + DEADLINE_S
        with self.changed:
            while True:
                if message in self.messages[after:]:
                    return self.messages.index(message, after)
                left = give_up - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {message} within the deadline; got {self.messages[-5:]}")
                self.changed.wait(left)

    def close(self) -> None:
        self._closed = True
        self._thread.join(timeout=5)
        self.sock.close()


class Serve:
    """One `footbath serve --simulate` process, ready once it said READY=1."""

    def __init__(self, config: Path, notify: Notify, *, speed: float, start_c: float, log: Path):
        self.notify = notify
        self.log = log
        env = {k: v for k, v in os.environ.items() if k != "FOOTBATH_CONFIG"}
        env["NOTIFY_SOCKET"] = notify.address
        self.seen = len(notify.messages)
        with log.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "kiosk.cli", "--config", str(config), "serve", "--simulate",
                 "--speed", str(speed), "--start-c", str(start_c)],
                cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        try:
            self.ready_at = notify.wait_for("READY=1", self.seen)
        except AssertionError:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"the service never got ready: {log.read_text()}") from None

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=DEADLINE_S)

    def kill9(self) -> int:
        os.kill(self.proc.pid, signal.SIGKILL)
        return self.proc.wait(timeout=DEADLINE_S)

    def cleanup(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def place(tmp_path):
    """A config in tmp_path, a short socket path, a notify socket; every process is ended."""
    sock_dir = Path(tempfile.mkdtemp(prefix="fb"))
    routines = tmp_path / "routines"
    routines.mkdir()
    config = tmp_path / "config.yaml"
    config.write_text(f"paths:\n  routines_dir: {routines}\n  state_dir: {tmp_path / 'state'}\n"
                      f"  socket: {sock_dir / 'api.sock'}\n")
    notify = Notify(str(sock_dir / "notify"))
    started: list[Serve] = []

    class Place:
        path = tmp_path
        socket = sock_dir / "api.sock"
        journal = tmp_path / "state" / FILE_NAME

        def __init__(self):
            self.config, self.routines, self.notify = config, routines, notify

        def serve(self, *, speed: float = 30.0, start_c: float = 30.0) -> Serve:
            serve = Serve(config, notify, speed=speed, start_c=start_c, log=tmp_path / "serve.log")
            started.append(serve)
            return serve

        def cli(self, *args: str) -> subprocess.CompletedProcess:
            env = {k: v for k, v in os.environ.items() if k != "FOOTBATH_CONFIG"}
            return subprocess.run([sys.executable, "-m", "kiosk.cli", "--config", str(config), *args],
                                  cwd=ROOT, env=env, capture_output=True, text=True, timeout=DEADLINE_S)

    yield Place()
    for serve in started:
        serve.cleanup()
    notify.close()
    for leftover in sock_dir.iterdir():
        leftover.unlink()
    sock_dir.rmdir()


def watch_until(path: Path, until, *, each=None) -> dict:
    """Statuses as the service pushes them, until `until(status)` holds."""
    give_up = time.monotonic() + DEADLINE_S
    with Client(path, timeout_s=10) as client:
        for status in client.watch():
            if each is not None:
                each(status)
            if until(status):
                return status
            if time.monotonic() > give_up:
                raise AssertionError(f"not reached within the deadline; last status: {status}")
    raise AssertionError("the watch stream ended")  # pragma: no cover


def start_and_soak(path: Path, routine: str) -> dict:
    """Start a session and answer its prompts until the soak runs."""
    with Client(path) as client:
        client.request("start", routine=routine, profile="standard")
        client.request("confirm")  # filled
        watch_until(path, lambda s: s["phase"] == "ready")
        client.request("confirm")  # feet in
    return watch_until(path, lambda s: s["phase"] == "soaking")


def short_path() -> str:
    """A socket path well inside AF_UNIX's 107 bytes (pytest's tmp_path can be longer)."""
    return str(Path(tempfile.mkdtemp(prefix="fb")) / "notify")


def remove_short_path(address: str) -> None:
    Path(address).unlink()
    Path(address).parent.rmdir()


def journal_rows(path: Path, sql: str) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        return db.execute(sql).fetchall()
    finally:
        db.close()


# -- kill -9 mid-soak, then a restart -------------------------------------------------------------

def test_kill_9_mid_soak_then_restart_shows_the_session_interrupted_and_nothing_heats(place):
    serve = place.serve(speed=60, start_c=38.0)
    soaking = start_and_soak(place.socket, "classic")
    # More than a minute into the soak, so a batch of samples has been committed too.
    watch_until(place.socket, lambda s: s["now_s"] - soaking["now_s"] >= 70 and s["phase"] == "soaking")
    assert serve.kill9() == -signal.SIGKILL

    [(sid, outcome, ended_at)] = journal_rows(place.journal, "SELECT id, outcome, ended_at FROM sessions")
    assert (outcome, ended_at) == (None, None)  # it was running when the process died
    [(samples,)] = journal_rows(place.journal, f"SELECT COUNT(*) FROM samples WHERE session_id={sid}")
    assert samples >= 12
    assert place.socket.is_socket()  # left behind by the crash: the restart must cope with it
    dead = place.cli("status")
    assert (dead.returncode, dead.stdout) == (1, "")
    assert dead.stderr.startswith(f"footbath: the footbath service is not running (no answer on "
                                  f"{place.socket})")
    assert len(dead.stderr.splitlines()) == 1

    place.serve(speed=60, start_c=38.0)
    with Client(place.socket) as client:
        status = client.request("status")
        assert status["interrupted"] == [sid]
        assert (status["phase"], status["session"], status["heater"]) == ("idle", None, False)
    statuses = []
    watch_until(place.socket, lambda s: len(statuses) >= 20, each=statuses.append)
    assert {(s["phase"], s["heater"], s["target_c"]) for s in statuses} == {("idle", False, None)}
    assert statuses[-1]["now_s"] - statuses[0]["now_s"] >= 10  # many readings, and nothing heats

    [(outcome, ended_at)] = journal_rows(place.journal, "SELECT outcome, ended_at FROM sessions")
    assert outcome == "interrupted" and ended_at is not None
    history = place.cli("history", "--csv")
    assert history.returncode == 0, history.stderr
    header, row = history.stdout.splitlines()
    assert header.startswith("id,started,routine,profile,length,outcome")
    assert row.startswith(f"{sid},") and ",classic,standard," in row and ",interrupted," in row
    shown = place.cli("status")
    assert shown.returncode == 0, shown.stderr
    assert f"session {sid} was interrupted" in shown.stdout
    assert "heater     off" in shown.stdout

    # A person must start again (after the cleaning the last customer's visit calls for).
    with Client(place.socket) as client, pytest.raises(ApiError, match="needs cleaning"):
        client.request("start", routine="classic", profile="standard")


# -- SIGTERM ----------------------------------------------------------------------------------

def test_sigterm_stops_gracefully_and_records_the_running_session_as_interrupted(place):
    abstract = Notify(f"@footbath-test-{uuid.uuid4().hex}")
    try:
        serve = Serve(place.config, abstract, speed=30, start_c=30.0, log=place.path / "serve.log")
        try:
            with Client(place.socket) as client:
                client.request("start", routine="quick", profile="standard")
                client.request("confirm")
            watch_until(place.socket, lambda s: s["heater"])  # warming
            assert serve.terminate() == 0
        finally:
            serve.cleanup()
        stopping = abstract.wait_for("STOPPING=1")
        ready = abstract.messages.index("READY=1")
        assert ready < abstract.messages.index("WATCHDOG=1", ready) < stopping
    finally:
        abstract.close()
    assert not place.socket.exists()
    [(outcome, ended_at)] = journal_rows(place.journal, "SELECT outcome, ended_at FROM sessions")
    assert outcome == "interrupted" and ended_at is not None
    log = (place.path / "serve.log").read_text()
    assert "Traceback" not in log and "serving on" in log


def test_sigterm_when_idle_exits_0_and_a_new_service_starts_clean(place):
    serve = place.serve()
    assert serve.terminate() == 0
    assert place.notify.wait_for("STOPPING=1", serve.ready_at) > serve.ready_at
    assert not place.socket.exists()
    place.serve()
    with Client(place.socket) as client:
        status = client.request("status")
    assert (status["phase"], status["interrupted"], status["cleaning_needed"]) == ("idle", [], False)


def test_a_second_service_on_the_same_socket_is_refused(place):
    place.serve()
    second = place.cli("serve", "--simulate")
    assert second.returncode == 1
    assert second.stderr.strip().splitlines()[-1] == (
        f"footbath: another footbath service is already answering on {place.socket}")
    with Client(place.socket) as client:  # the first one is untouched
        assert client.request("status")["phase"] == "idle"


# -- the routines dir edited mid-session --------------------------------------------------------

def test_a_broken_routine_file_mid_session_leaves_the_session_running_and_shows_the_error(place):
    routine_file = place.routines / "tiny.yaml"
    routine_file.write_text(TINY.format(name="Tiny one"))
    place.serve(speed=40, start_c=37.0)
    start_and_soak(place.socket, "tiny")

    routine_file.write_text("id: tiny\nname: [Tiny one\nsoak: {target_c: 37.0\n")  # saved half-typed
    broken = watch_until(place.socket, lambda s: s["routine_errors"])
    assert broken["routine"] == "tiny" and broken["phase"] in ("soaking", "steps")
    [error] = broken["routine_errors"]
    assert error.startswith(f"{routine_file}:") and error.split(":")[1].isdigit()
    with Client(place.socket) as client:  # the last good version stays on offer
        assert [(r["id"], r["name"]) for r in client.request("routines") if r["id"] == "tiny"] == [
            ("tiny", "Tiny one")]
    shown = place.cli("status")
    assert "routines   1 problem(s):" in shown.stdout and str(routine_file) in shown.stdout

    done = watch_until(place.socket, lambda s: s["phase"] in ("done", "stopped", "fault"))
    assert done["phase"] == "done" and done["faults"] == []

    routine_file.write_text(TINY.format(name="Tiny two"))  # fixed: picked up between sessions
    fixed = watch_until(place.socket, lambda s: not s["routine_errors"])
    assert fixed["phase"] == "done"
    with Client(place.socket) as client:
        assert [r["name"] for r in client.request("routines") if r["id"] == "tiny"] == ["Tiny two"]
    [(routine, outcome)] = journal_rows(place.journal, "SELECT routine_name, outcome FROM sessions")
    assert (routine, outcome) == ("Tiny one", "done")


# -- systemd's notify protocol --------------------------------------------------------------------

@pytest.mark.parametrize("form", ["path", "abstract"])
def test_ready_watchdog_and_stopping_reach_the_notify_socket(tmp_path, form):
    address = f"@footbath-test-{uuid.uuid4().hex}" if form == "abstract" else short_path()
    notify = Notify(address)
    try:
        watchdog = Watchdog(address)
        assert watchdog.ready() and watchdog.ping() and watchdog.ping() and watchdog.stopping()
        notify.wait_for("STOPPING=1")
        assert notify.messages == ["READY=1", "WATCHDOG=1", "WATCHDOG=1", "STOPPING=1"]
    finally:
        notify.close()
        if form == "path":
            remove_short_path(address)


def test_the_address_comes_from_notify_socket(monkeypatch):
    address = f"@footbath-test-{uuid.uuid4().hex}"
    notify = Notify(address)
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", address)
        assert Watchdog().ready()
        notify.wait_for("READY=1")
    finally:
        notify.close()


def test_without_systemd_nothing_is_sent(monkeypatch, tmp_path):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not Watchdog().ready() and not Watchdog().ping()
    assert not Watchdog(str(tmp_path / "nobody-listens")).ping()  # a socket that is gone


def test_a_receiver_that_does_not_read_never_stalls_the_control_loop(tmp_path):
    """The datagram queue holds a few messages; past that a ping is dropped, not waited on."""
    address = short_path()
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(address)
    results: list[bool] = []
    try:
        watchdog = Watchdog(address)
        pinger = threading.Thread(target=lambda: results.extend(watchdog.ping() for _ in range(200)),
                                  daemon=True)
        pinger.start()
        pinger.join(timeout=DEADLINE_S)
        assert not pinger.is_alive(), "a ping blocked on a full notify socket"
        assert results[0] and not results[-1]
        receiver.settimeout(1)
        assert receiver.recv(64) == b"WATCHDOG=1"  # the first ones were delivered
    finally:
        receiver.close()
        remove_short_path(address)
