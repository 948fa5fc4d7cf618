"""The local API on a real Unix socket, served by the real service on the simulated bath.

The bath is driven by the test (`step_simulation()`, one simulated read a call) while the API
thread serves the socket, so what each request does is seen exactly. Covered: the socket (mode,
group, path), the reply format and order, every op with good and bad arguments, the watch
stream, the socket file's life cycle, and the client's errors.
"""

import contextlib
import errno
import grp
import json
import os
import select
import shutil
import signal
import socket
import stat
import tempfile
import threading
from pathlib import Path

import pytest

from hardware.simbath import SIM_PINS
from kiosk import protocol as p
from kiosk import server as server_module
from kiosk.client import ApiError, Client, ServiceUnavailable, unavailable
from kiosk.config import parse_config
from kiosk.errors import KioskError
from kiosk.journal import Journal
from kiosk.server import SOCKET_GROUP, WATCH_EVERY_S
from kiosk.service import Service
from kiosk.staff_pins import FILE_NAME, PinStore
from tests.helpers import Clock

PIN = "1234"
NOBODY = 65534
WAIT_S = 10.0  # only a safety net against a hang; nothing here is timed
CONFIG = """\
paths:
  routines_dir: {dir}/routines
  state_dir: {dir}/state
  socket: {socket}
cleaning:
  contact_s: 60
"""

_pins: dict[str, bytes] = {}


def _pin_file() -> bytes:
    """A real PIN file for anna (hashing takes a while, so it is made once and copied)."""
    if "file" not in _pins:
        folder = Path(tempfile.mkdtemp(prefix="fbpins"))
        try:
            PinStore(folder).set("anna", PIN)
            _pins["file"] = (folder / FILE_NAME).read_bytes()
        finally:
            shutil.rmtree(folder)
    return _pins["file"]


@contextlib.contextmanager
def socket_dir():
    """AF_UNIX paths are limited to 107 bytes: sockets live in a short directory of their own."""
    folder = Path(tempfile.mkdtemp(prefix="fb"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def make_config(tmp_path: Path, sock: Path):
    text = CONFIG.format(dir=tmp_path, socket=sock)
    (tmp_path / "config.yaml").write_text(text)
    config = parse_config(text, str(tmp_path / "config.yaml"))
    config.paths.state_dir.mkdir(parents=True, exist_ok=True)
    (config.paths.state_dir / FILE_NAME).write_bytes(_pin_file())
    return config


@contextlib.contextmanager
def running(tmp_path: Path, *, water_c: float = 30.0, clock=None):
    """The service on a simulated bath with its API served; the test steps the bath."""
    with socket_dir() as folder:
        config = make_config(tmp_path, folder / "api.sock")
        service = Service(config, simulate=True, water_c=water_c)
        try:
            if clock is not None:
                service.server.clock = clock
            service.server.start()
            yield service
        finally:
            service.close()


def warm(service: Service, client: Client, routine: str = "classic") -> dict:
    """A session warming the water: the heater is on."""
    client.request("start", routine=routine)
    client.request("confirm")
    for _ in range(3):
        service.step_simulation()
    status = client.request("status")
    assert (status["phase"], status["heater"]) == ("heating", True)
    return status


def heater_pin_on(service: Service) -> bool:
    """The heater as its GPIO pin is driven, read from the pin itself, not from the rig."""
    wiring = SIM_PINS["heater"]
    return bool(service.sim.factory.pin(wiring.number).state) == wiring.active_high


class Raw:
    """A connection speaking bytes: what a careless or hostile program would send."""

    def __init__(self, path: Path, timeout_s: float = WAIT_S):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout_s)
        self.sock.connect(str(path))
        self.file = self.sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> dict:
        data = self.file.readline()
        assert data.endswith(b"\n"), f"the connection closed instead of answering: {data[:200]!r}"
        return json.loads(data)

    def replies_until_closed(self) -> list[dict]:
        """Every reply up to the server closing (an abrupt close counts: that is a close too)."""
        replies = []
        with contextlib.suppress(ConnectionResetError):
            for data in self.file:
                replies.append(json.loads(data))
        return replies

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def settle(client: Client) -> None:
    """Two round trips: the second is served in a later pass of the server's loop than the first,
    so whatever the server could see before the first (a closed peer, say) has been dealt with.
    Unknown ops, so that nothing is published and no further pass is set off."""
    for _ in range(2):
        with pytest.raises(ApiError, match="unknown op 'settle'"):
            client.request("settle")


@pytest.fixture
def service(tmp_path):
    with running(tmp_path) as service:
        yield service


@pytest.fixture
def client(service):
    with Client(service.socket_path, timeout_s=WAIT_S) as client:
        yield client


# -- the socket --------------------------------------------------------------------------------

def test_the_socket_is_where_the_config_says_and_only_owner_and_group_may_use_it(service):
    assert service.socket_path == service.config.paths.socket
    mode = service.socket_path.stat().st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o660


def _footbath_group():
    try:
        return grp.getgrnam(SOCKET_GROUP).gr_gid
    except KeyError:
        return None


@pytest.mark.skipif(_footbath_group() is None, reason="there is no footbath group on this machine")
def test_the_socket_belongs_to_the_footbath_group_when_there_is_one(service):
    assert service.socket_path.stat().st_gid == _footbath_group()


def test_replies_come_one_per_request_in_order_with_the_ids_echoed(service):
    raw = Raw(service.socket_path)
    ids = [1, "two", 3.5, None, 0, -7, "", 2**70, "x" * 64]
    ops = ["status", "routines", "nope", "samples", "extend", "status", "check_pin", "status", "watch"]
    # All in one write: the server splits the lines itself.
    raw.send(b"".join(json.dumps({"id": i, "op": op}).encode() + b"\n"
                      for i, op in zip(ids, ops, strict=True)))
    replies = [raw.reply() for _ in ids]
    assert [r["id"] for r in replies] == ids
    for reply in replies:
        if reply["ok"]:
            assert set(reply) == {"id", "ok", "result"}
        else:
            assert set(reply) == {"id", "ok", "error"}
            assert set(reply["error"]) == {"code", "message"}
            assert reply["error"]["message"]
    assert [r["ok"] for r in replies] == [True, True, False, True, False, True, False, True, True]
    assert replies[2]["error"]["code"] == "unknown_op"
    assert replies[4]["error"]["code"] == "refused"  # valid, but there is no session to extend
    assert replies[6]["error"]["code"] == "bad_request"  # check_pin without a pin
    assert replies[8]["result"] == {"watching": True}
    raw.close()


def test_blank_lines_get_no_reply_and_requests_may_arrive_byte_by_byte(service):
    raw = Raw(service.socket_path)
    raw.send(b"\n  \n\r\n")
    for byte in b'{"id": 9, "op": "status"}\n':
        raw.send(bytes([byte]))
    reply = raw.reply()
    assert (reply["id"], reply["ok"], reply["result"]["phase"]) == (9, True, "idle")
    raw.close()


# -- every op, working -------------------------------------------------------------------------

STATUS_KEYS = {"phase", "routine", "water_c", "target_c", "heater", "faults", "remaining_s",
               "cleaning_needed", "routine_errors"}


def test_status_routines_and_samples_when_idle(service, client):
    status = client.request("status")
    assert set(status) >= STATUS_KEYS
    assert (status["phase"], status["routine"], status["heater"]) == ("idle", None, False)
    assert (status["faults"], status["routine_errors"], status["cleaning_needed"]) == ([], [], False)
    routines = client.request("routines")
    assert {"classic", "gentle", "quick", "evening"} <= {r["id"] for r in routines}
    assert all(set(r) >= {"id", "name", "target_c", "length_s", "steps"} for r in routines)
    assert client.request("samples") == []


def test_start_with_an_unknown_routine_or_a_running_session_is_refused(service, client):
    with pytest.raises(ApiError) as info:
        client.request("start", routine="nosuch")
    assert info.value.code == "not_found"
    assert "no routine 'nosuch'; known routines: " in str(info.value)
    assert client.request("status")["phase"] == "idle"
    client.request("start", routine="quick", profile="gentle")
    with pytest.raises(ApiError) as info:
        client.request("start", routine="classic")
    assert (info.value.code, str(info.value)) == ("refused", "a session is already running; stop it first")
    status = client.request("status")
    assert (status["routine"], status["profile"]) == ("quick", "gentle")


def test_a_whole_session_through_the_api(tmp_path):
    """start, confirm, pause, resume, extend, next, back, stop, then the cleaning with the PIN."""
    with running(tmp_path, water_c=37.0) as service, Client(service.socket_path, timeout_s=WAIT_S) as client:
        status = client.request("start", routine="classic", profile="standard")
        assert (status["phase"], status["profile"], status["target_c"]) == ("fill", "standard", 38.0)
        assert client.request("confirm")["phase"] == "heating"
        service.step_simulation()
        assert client.request("status")["heater"] is True  # 37 C in, 38 C wanted
        while client.request("status")["phase"] != "ready":
            service.step_simulation()
        assert client.request("confirm")["phase"] == "soaking"
        service.step_simulation()
        soak_left = client.request("status")["remaining_s"]

        paused = client.request("pause")["session"]
        assert (paused["paused"], paused["pause_reason"]) == (True, "user")
        for _ in range(5):
            service.step_simulation()
        assert client.request("status")["remaining_s"] == soak_left  # a pause stops the clock
        assert client.request("resume")["session"]["paused"] is False

        assert client.request("extend", seconds=60)["remaining_s"] == pytest.approx(soak_left + 60)
        with pytest.raises(ApiError, match="it is not paused"):
            client.request("resume")  # not paused: refused, nothing changes
        assert client.request("status")["remaining_s"] == pytest.approx(soak_left + 60)

        step = client.request("next")  # the rest of the soak skipped
        assert (step["phase"], step["session"]["step_index"], step["session"]["title"]) == (
            "steps", 0, "Dry your feet")
        second = client.request("next")["session"]
        assert (second["step_index"], second["foot"]) == (1, "left")
        back = client.request("back")["session"]
        assert (back["step_index"], back["foot"], back["title"]) == (0, None, "Dry your feet")
        samples = client.request("samples")
        assert samples and all(len(point) == 2 for point in samples)

        stopped = client.request("stop")
        assert (stopped["phase"], stopped["heater"], stopped["cleaning_needed"]) == ("stopped", False, True)
        with pytest.raises(ApiError, match="needs cleaning"):
            client.request("start", routine="classic")

        with pytest.raises(ApiError) as info:
            client.request("clean", pin="9999", action="start")
        assert (info.value.code, str(info.value)) == ("unauthorized", "wrong staff PIN")
        assert client.request("check_pin", pin=PIN) == {"who": "anna"}
        assert client.request("clean", pin=PIN, action="start")["cleaning"]["step"] == "drain"
        assert client.request("clean", pin=PIN, action="next")["cleaning"]["step"] == "scrub"
        disinfect = client.request("clean", pin=PIN, action="next")["cleaning"]
        assert (disinfect["step"], disinfect["remaining_s"]) == ("disinfect", 60)
        with pytest.raises(ApiError, match="the disinfectant needs 60 s more contact time"):
            client.request("clean", pin=PIN, action="next")
        while client.request("status")["cleaning"]["remaining_s"] > 0:
            service.step_simulation()
        assert client.request("clean", pin=PIN, action="next")["cleaning"]["step"] == "rinse"
        done = client.request("clean", pin=PIN, action="next")
        assert (done["cleaning"], done["cleaning_needed"]) == (None, False)
        assert client.request("start", routine="quick")["phase"] == "fill"
        cleanings = Journal(service.config.paths.state_dir, readonly=True).cleanings(None)
        assert [c.who for c in cleanings] == ["anna"]


def test_heater_off_switches_the_heater_off_at_once(service, client):
    warm(service, client)
    assert heater_pin_on(service)
    status = client.request("heater_off")
    assert (status["heater"], status["phase"]) == (False, "stopped")
    assert not heater_pin_on(service)
    service.step_simulation()
    assert client.request("status")["heater"] is False


def test_ack_fault_needs_the_staff_pin_and_a_cleared_condition(service, client):
    warm(service, client)
    service.sim.bath.unplug_sensor()
    while not client.request("status")["faults"]:
        service.step_simulation()
    status = client.request("status")
    assert (status["phase"], status["heater"]) == ("fault", False)
    faults = status["faults"]

    with pytest.raises(ApiError) as info:
        client.request("ack_fault", pin="0000")
    assert info.value.code == "unauthorized"
    with pytest.raises(ApiError, match="cannot clear the fault yet: the thermometer still gives no valid"):
        client.request("ack_fault", pin=PIN)  # still unplugged
    assert client.request("status")["faults"] == faults

    service.sim.bath.plug_sensor()
    for _ in range(3):
        service.step_simulation()
    status = client.request("ack_fault", pin=PIN)
    assert (status["faults"], status["heater"]) == ([], False)


def test_wrong_pins_are_rate_limited(service, client):
    for _ in range(5):
        with pytest.raises(ApiError, match="wrong staff PIN"):
            client.request("check_pin", pin="0000")
    with pytest.raises(ApiError, match="too many wrong PINs; try again in"):
        client.request("check_pin", pin=PIN)  # even the right one, for a while


# -- every op, with bad arguments: an error reply, and nothing changes -------------------------

BAD = [
    ('{"op": "status", "verbose": true}', "status: unknown field 'verbose'"),
    ('{"op": "watch", "every_s": 0.1}', "watch: unknown field 'every_s'"),
    ('{"op": "routines", "id2": 1}', "routines: unknown field 'id2'"),
    ('{"op": "samples", "since": 0}', "samples: unknown field 'since'"),
    ('{"op": "start"}', "start: missing field 'routine'"),
    ('{"op": "start", "routine": "quick", "target_c": 45}', "start: unknown field 'target_c'"),
    ('{"op": "start", "routine": 7}', "start: routine must be text of 1 to 64 characters"),
    ('{"op": "start", "routine": "quick", "profile": "hot"}', "profile must be one of standard, gentle"),
    ('{"op": "confirm", "now": true}', "confirm: unknown field 'now'"),
    ('{"op": "pause", "seconds": 5}', "pause: unknown field 'seconds'"),
    ('{"op": "resume", "x": null}', "resume: unknown field 'x'"),
    ('{"op": "next", "step": 2}', "next: unknown field 'step'"),
    ('{"op": "back", "step": 0}', "back: unknown field 'step'"),
    ('{"op": "extend", "seconds": 0}', "extend: seconds must be a number of seconds from 1 to 600"),
    ('{"op": "extend", "seconds": 601}', "from 1 to 600 (got 601)"),
    ('{"op": "extend", "seconds": "60"}', "from 1 to 600 (got the text '60')"),
    ('{"op": "extend", "seconds": 1e999}', "from 1 to 600 (got a number that large)"),
    ('{"op": "extend", "seconds": ' + "9" * 400 + "}", "from 1 to 600 (got a number that large)"),
    ('{"op": "extend", "seconds": NaN}', "NaN is not JSON"),
    ('{"op": "extend", "minutes": 1}', "extend: unknown field 'minutes'"),
    ('{"op": "stop", "why": "test"}', "stop: unknown field 'why'"),
    ('{"op": "heater_off", "now": 1}', "heater_off: unknown field 'now'"),
    ('{"op": "ack_fault"}', "ack_fault: missing field 'pin'"),
    ('{"op": "ack_fault", "pin": 1234}', "ack_fault: pin must be text of 1 to 32 characters (got 1234)"),
    ('{"op": "clean", "pin": "1234"}', "clean: missing field 'action'"),
    ('{"op": "clean", "pin": "1234", "action": "skip"}', "action must be one of start, next, cancel"),
    ('{"op": "check_pin", "pin": ["1234"]}', "check_pin: pin must be text of 1 to 32 characters"),
    ('{"op": "check_pin", "pin": "' + "1" * 33 + '"}', "pin must be text of 1 to 32 characters"),
    ('{"op": "buzz", "pattern": [9]}', "buzz: pattern must be a list of 1 to 10 durations"),
]


def test_bad_arguments_for_every_op_get_an_error_and_change_nothing(service, client):
    before = warm(service, client)
    assert {json.loads(text.replace("NaN", "0").replace("1e999", "0"))["op"] for text, _ in BAD} == set(p.OPS)
    raw = Raw(service.socket_path)
    for n, (text, says) in enumerate(BAD):
        with_id = text if "NaN" in text else text[:-1] + f', "id": {n}}}'
        raw.send(with_id.encode() + b"\n")
        reply = raw.reply()
        assert reply["ok"] is False, text
        assert reply["error"]["code"] in ("bad_request", "bad_json"), text
        assert says in reply["error"]["message"], (text, reply)
        if "NaN" not in text:
            assert reply["id"] == n  # the request is known by its id even when refused
    assert client.request("status") == before
    assert heater_pin_on(service)
    raw.close()


# -- watch -------------------------------------------------------------------------------------

def test_watch_pushes_a_snapshot_for_each_change_of_the_bath(service, client):
    warm(service, client)
    with Client(service.socket_path, timeout_s=WAIT_S) as watcher:
        stream = watcher.watch()
        first = next(stream)
        assert set(first) >= STATUS_KEYS
        for _ in range(5):
            now_s = service.step_simulation()
            snapshot = next(stream)
            while snapshot["now_s"] != round(now_s, 3):  # a step may be pushed with the next one
                snapshot = next(stream)
            assert (snapshot["phase"], snapshot["heater"]) == ("heating", True)
        client.request("stop")  # a change through the API is pushed as well
        snapshot = next(stream)
        while snapshot["phase"] != "stopped":
            snapshot = next(stream)
        assert snapshot["heater"] is False


def test_watch_resends_the_status_every_second_when_nothing_changes(tmp_path):
    """A clock the test moves: a snapshot is due exactly WATCH_EVERY_S after the last one."""
    clock = Clock(1000.0)
    with running(tmp_path, clock=clock) as service:
        raw = Raw(service.socket_path)
        raw.send(b'{"id": "s", "op": "status"}\n')  # the service publishes its status
        assert raw.reply()["id"] == "s"
        raw.send(b'{"id": "w", "op": "watch"}\n')
        assert raw.reply() == {"id": "w", "ok": True, "result": {"watching": True}}
        first = raw.reply()
        assert (first["id"], first["ok"], first["result"]["phase"]) == ("watch", True, "idle")

        def answers_in_order(*ids):  # each request gives one pass of the server's loop
            raw.send(b"".join(b'{"op": "samples", "id": %d}\n' % i for i in ids))
            return [raw.reply()["id"] for _ in ids]

        assert answers_in_order(1, 2) == [1, 2]
        clock.now += WATCH_EVERY_S - 0.001
        assert answers_in_order(3, 4) == [3, 4]  # not due yet: nothing between the replies
        clock.now += 0.001
        raw.send(b'{"op": "samples", "id": 5}\n')
        # Due: the same status again, though nothing changed; the server may have woken by
        # itself for it before the request came, or send it after the reply.
        got = sorted([raw.reply(), raw.reply()], key=lambda m: str(m["id"]))
        assert (got[0]["id"], got[1]) == (5, first)
        assert answers_in_order(6) == [6]

        # With no request at all, the server wakes by itself when a snapshot is due.
        clock.now += WATCH_EVERY_S
        assert raw.reply() == first
        raw.close()


@pytest.mark.slow
def test_watch_with_the_real_clock_keeps_coming_while_nothing_changes(service):
    with Client(service.socket_path, timeout_s=WAIT_S) as watcher:
        stream = watcher.watch()
        snapshots = [next(stream) for _ in range(2)]  # the first at once, the next a second later
    assert snapshots[0] == snapshots[1]
    assert snapshots[0]["phase"] == "idle"


@pytest.mark.parametrize(("now_s", "sent_at_s", "timeout_s"), [
    (1000.0, [], WATCH_EVERY_S),  # no watchers: the loop still comes round once a second
    (1000.0, [1000.0], WATCH_EVERY_S),
    (1000.75, [1000.0], 0.25),
    (1000.75, [1000.5, 1000.0, 1000.7], 0.25),  # the watcher due first counts
    (1001.0, [1000.0], 0.0),
    (1007.0, [1000.0], 0.0),  # overdue: at once
])
def test_the_server_never_sleeps_past_a_watchers_due_snapshot(now_s, sent_at_s, timeout_s):
    assert server_module.select_timeout_s(now_s, sent_at_s) == pytest.approx(timeout_s)


# -- the socket file's life ----------------------------------------------------------------------

def test_a_stale_socket_left_by_a_crash_is_replaced(tmp_path):
    with socket_dir() as folder:
        path = folder / "api.sock"
        crashed = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        crashed.bind(str(path))  # bound and gone without unlinking: what a kill -9 leaves
        crashed.close()
        assert stat.S_ISSOCK(path.lstat().st_mode)
        with pytest.raises(ServiceUnavailable, match="the footbath service is not running"):
            Client(path).request("status")
        service = Service(make_config(tmp_path, path), simulate=True)
        try:
            service.server.start()
            with Client(path, timeout_s=WAIT_S) as client:
                assert client.request("status")["phase"] == "idle"
        finally:
            service.close()
        assert not path.exists()  # a clean stop removes its socket


def test_a_second_service_on_the_same_socket_is_refused_and_the_first_keeps_serving(tmp_path):
    with running(tmp_path) as first:
        with pytest.raises(KioskError) as info:
            Service(first.config, simulate=True)
        assert str(info.value) == f"another footbath service is already answering on {first.socket_path}"
        assert stat.S_ISSOCK(first.socket_path.lstat().st_mode)
        with Client(first.socket_path, timeout_s=WAIT_S) as client:
            assert client.request("status")["phase"] == "idle"


def test_a_second_service_leaves_the_running_session_in_the_journal_alone(tmp_path):
    with running(tmp_path) as first, Client(first.socket_path, timeout_s=WAIT_S) as client:
        warm(first, client)
        with pytest.raises(KioskError, match="already answering"):
            Service(first.config, simulate=True)
        sessions = Journal(first.config.paths.state_dir, readonly=True).sessions(None)
        assert [s.outcome for s in sessions] == [None]  # still running, not "interrupted"


@pytest.mark.parametrize("kind", ["file", "directory", "dangling symlink"])
def test_something_else_at_the_socket_path_is_never_deleted(tmp_path, kind):
    with socket_dir() as folder:
        path = folder / "api.sock"
        if kind == "file":
            path.write_text("staff notes\n")
        elif kind == "directory":
            path.mkdir()
        else:
            path.symlink_to(folder / "nowhere")
        with pytest.raises(KioskError) as info:
            Service(make_config(tmp_path, path), simulate=True)
        assert str(info.value) == f"{path} exists and is not a socket; remove it or change paths.socket"
        if kind == "file":
            assert path.read_text() == "staff notes\n"
        elif kind == "directory":
            assert path.is_dir()
        else:
            assert path.is_symlink()


# -- the client's errors ---------------------------------------------------------------------------

def test_no_socket_means_not_running(tmp_path):
    with pytest.raises(ServiceUnavailable) as info:
        Client(tmp_path / "none.sock").request("status")
    message = str(info.value)
    assert message.startswith(f"the footbath service is not running (no answer on {tmp_path / 'none.sock'})")
    assert "systemctl start footbath" in message


def _connect_as_nobody(path: Path) -> str:
    """Connect from a child process that has given up root, as a staff member's shell would."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child only reports through the pipe
        try:
            try:
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            except OSError as exc:
                os.write(write_end, f"cannot become nobody: {exc}".encode())
                return
            try:
                Client(path, timeout_s=WAIT_S).connect()
                os.write(write_end, b"connected")
            except ServiceUnavailable as exc:
                os.write(write_end, str(exc).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        if not select.select([read_end], [], [], WAIT_S)[0]:
            os.kill(pid, signal.SIGKILL)
            pytest.fail("the unprivileged child did not report")
        said = os.read(read_end, 4096).decode()
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    if said.startswith("cannot become nobody"):
        pytest.skip(f"running as root without the right to drop it ({said}): EACCES cannot be shown")
    return said


def test_a_socket_the_user_may_not_use_means_not_permitted(service):
    path = service.socket_path
    if os.geteuid() == 0:
        # root may use any socket; a child that has become nobody may not use this 0660 one.
        said = _connect_as_nobody(path)
    else:
        os.chmod(path, 0o000)
        try:
            with pytest.raises(ServiceUnavailable) as info:
                Client(path).connect()
            said = str(info.value)
        finally:
            os.chmod(path, 0o660)
    assert said == (f"not permitted to use {path}; add your user to the footbath group "
                    "(`sudo adduser $USER footbath`, then log in again)")
    with Client(path, timeout_s=WAIT_S) as client:  # the service itself is untouched
        assert client.request("status")["phase"] == "idle"


def test_the_messages_for_each_cause_differ():
    path = Path("/run/footbath/footbath.sock")
    messages = {str(unavailable(path, OSError(code, os.strerror(code))))
                for code in (errno.ENOENT, errno.EACCES, errno.EAGAIN)}
    messages.add(str(unavailable(path, TimeoutError("timed out"), 5.0)))
    messages.add(str(unavailable(path, OSError(errno.ENOTSOCK, os.strerror(errno.ENOTSOCK)))))
    assert len(messages) == 5
    assert str(unavailable(path, OSError(errno.ECONNREFUSED, "refused"))) == \
        str(unavailable(path, OSError(errno.ENOENT, "none")))  # a stale socket: not running either


def test_a_service_that_accepts_but_never_answers_times_out(tmp_path):
    with socket_dir() as folder:
        path = folder / "stuck.sock"
        stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stuck.bind(str(path))
        stuck.listen(1)  # connections queue up and are never served
        try:
            with pytest.raises(ServiceUnavailable) as info:
                Client(path, timeout_s=0.2).request("status")
            assert str(info.value) == (f"the footbath service did not answer within 0.2 s on {path}; it may "
                                       "be stuck: see `journalctl -u footbath`, or restart it with "
                                       "`sudo systemctl restart footbath`")
        finally:
            stuck.close()


def test_a_service_whose_connection_queue_is_full_is_reported_as_stuck(tmp_path):
    with socket_dir() as folder:
        path = folder / "stuck.sock"
        stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stuck.bind(str(path))
        stuck.listen(0)
        waiting = []
        try:
            with pytest.raises(ServiceUnavailable) as info:
                for _ in range(8):  # the queue takes one, then the next waits for room in vain
                    client = Client(path, timeout_s=0.2)
                    waiting.append(client)
                    client.connect()
            assert str(info.value).startswith(f"the footbath service did not take the connection within "
                                              f"0.2 s on {path}; it may be stuck")
        finally:
            for client in waiting:
                client.close()
            stuck.close()


def test_something_else_answering_on_the_socket_is_named(tmp_path):
    with socket_dir() as folder:
        path = folder / "other.sock"
        other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        other.bind(str(path))
        other.listen(1)

        def answer():
            conn, _ = other.accept()
            with conn:
                conn.recv(1024)
                conn.sendall(b"220 smtp ready\n")

        thread = threading.Thread(target=answer)
        thread.start()
        try:
            with pytest.raises(ServiceUnavailable, match="answered with something that is not the footbath"):
                Client(path, timeout_s=WAIT_S).request("status")
        finally:
            thread.join(WAIT_S)
            other.close()


def test_a_closed_connection_and_an_error_reply_are_told_apart(service, client):
    with pytest.raises(ApiError) as info:
        client.request("bogus")
    assert info.value.code == "unknown_op"
    assert client.request("status")["phase"] == "idle"  # an error reply leaves the connection usable
    with pytest.raises(ValueError):
        client.request("extend", seconds=float("nan"))  # never sent: it would not be JSON


def test_when_every_connection_is_taken_a_new_client_is_told_so(service, client):
    raws = [Raw(service.socket_path) for _ in range(server_module.MAX_CLIENTS - 1)]  # client holds one
    try:
        settle(client)
        assert len(service.server.clients) == server_module.MAX_CLIENTS
        late = Client(service.socket_path, timeout_s=WAIT_S)
        with pytest.raises(ApiError) as info:
            late.request("status")
        assert info.value.code == p.BUSY
        assert str(info.value) == (f"the service already has {server_module.MAX_CLIENTS} connections; "
                                   "close some and try again")
        raws.pop().close()
        settle(client)
        assert late.request("status")["phase"] == "idle"  # the same client, connected again
        late.close()
    finally:
        for raw in raws:
            raw.close()
