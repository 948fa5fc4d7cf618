"""Bad input and bad clients against the real service, with a session warming the water.

Whatever a client sends or does, the service answers or drops that client, never dies, and the
heater stays exactly as it was: the bath is not stepped while the bad input goes in, so the
status and the heater's pin must come out identical. Then many watchers, watchers that vanish,
a watcher that never reads and a client that floods without reading: the server's buffers stay
bounded and everyone else is still answered.
"""

import contextlib
import json
import math
import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk import protocol as p
from kiosk.client import Client
from kiosk.server import MAX_OUT

from .test_server import WAIT_S, Raw, heater_pin_on, running, settle, warm

pytestmark = pytest.mark.slow  # thousands of drawn requests

CHANGING = {"start", "confirm", "pause", "resume", "next", "back", "extend", "stop", "heater_off",
            "ack_fault", "clean"}
CODES = {p.BAD_JSON, p.BAD_REQUEST, p.UNKNOWN_OP, p.TOO_LONG, p.REFUSED, p.UNAUTHORIZED, p.NOT_FOUND}


@pytest.fixture
def bath(tmp_path):
    """(service, client, status): the heater on, warming for a session."""
    with running(tmp_path) as service, Client(service.socket_path, timeout_s=WAIT_S) as client:
        yield service, client, warm(service, client)


def untouched(service, client, before) -> None:
    """Still answering, nothing changed, the heater's pin still driven on; and the next
    reading carries on warming as if nothing had happened."""
    assert client.request("status") == before
    assert heater_pin_on(service)
    service.step_simulation()
    after = client.request("status")
    assert (after["phase"], after["heater"], after["faults"]) == ("heating", True, [])


# -- each kind of bad input --------------------------------------------------------------------

BAD_INPUT = [
    ("not JSON", b"hello there", p.BAD_JSON),
    ("cut-off JSON", b'{"op": "heater_of', p.BAD_JSON),
    ("single quotes", b"{'op': 'heater_off'}", p.BAD_JSON),
    ("a list", b'["heater_off"]', p.BAD_REQUEST),
    ("a string", b'"stop"', p.BAD_REQUEST),
    ("a number", b"42", p.BAD_REQUEST),
    ("null", b"null", p.BAD_REQUEST),
    ("unknown op", b'{"op": "self_destruct"}', p.UNKNOWN_OP),
    ("op in capitals", b'{"op": "HEATER_OFF"}', p.UNKNOWN_OP),
    ("op of the wrong type", b'{"op": {"op": "stop"}}', p.BAD_REQUEST),
    ("no op", b'{"stop": true}', p.BAD_REQUEST),
    ("stop with an unknown field", b'{"op": "stop", "now": true}', p.BAD_REQUEST),
    ("heater_off with an unknown field", b'{"op": "heater_off", "pin": "1234"}', p.BAD_REQUEST),
    ("pause with a wrong type", b'{"op": "pause", "seconds": "all"}', p.BAD_REQUEST),
    ("extend out of range", b'{"op": "extend", "seconds": 100000}', p.BAD_REQUEST),
    ("start with a list", b'{"op": "start", "routine": ["classic"]}', p.BAD_REQUEST),
    ("two ops in one object", b'{"op": "status", "op": "heater_off"}', p.BAD_REQUEST),
    ("deep list", b"[" * 60000, p.BAD_JSON),
    ("deep object", b'{"a":' * 9000 + b"1" + b"}" * 9000, p.BAD_JSON),
    ("deep argument", b'{"op": "start", "routine": ' + b"[" * 30000 + b"]" * 30000 + b"}", p.BAD_JSON),
    ("nested but not too deep", b'{"op": "start", "routine": ' + b"[" * 500 + b"]" * 500 + b"}",
     p.BAD_REQUEST),
    ("huge float id", b'{"id": 1e99999, "op": "heater_off"}', p.BAD_REQUEST),
    ("huge float seconds", b'{"op": "extend", "seconds": 1e400}', p.BAD_REQUEST),
    ("400-digit seconds", b'{"op": "extend", "seconds": ' + b"7" * 400 + b"}", p.BAD_REQUEST),
    ("negative 400-digit seconds", b'{"op": "extend", "seconds": -' + b"7" * 400 + b"}", p.BAD_REQUEST),
    ("5000-digit number", b'{"op": "extend", "seconds": ' + b"9" * 5000 + b"}", p.BAD_JSON),
    ("NaN id", b'{"id": NaN, "op": "heater_off"}', p.BAD_JSON),
    ("Infinity seconds", b'{"op": "extend", "seconds": Infinity}', p.BAD_JSON),
    ("-Infinity seconds", b'{"op": "extend", "seconds": -Infinity}', p.BAD_JSON),
    ("invalid UTF-8 in a string", b'{"op": "stop\xc3\x28"}', p.BAD_JSON),
    ("invalid UTF-8 alone", b"\xff\xfe\xfd\xfc", p.BAD_JSON),
    ("a lone surrogate", b'{"op": "\xed\xa0\x80"}', p.BAD_JSON),
    ("UTF-16", '{"op": "heater_off"}'.encode("utf-16-le"), p.BAD_JSON),
    ("UTF-8 with a byte order mark", b'\xef\xbb\xbf{"op": "heater_off"}', p.BAD_JSON),
    ("NUL bytes", b"\x00" * 100, p.BAD_JSON),
    ("terminal escapes", b"\x1b[2J\x07\x08", p.BAD_JSON),
    ("two objects on one line", b'{"op": "status"} {"op": "heater_off"}', p.BAD_JSON),
    ("a wrong PIN", b'{"op": "ack_fault", "pin": "0000"}', p.UNAUTHORIZED),
]


@pytest.mark.parametrize(("raw_line", "code"), [c[1:] for c in BAD_INPUT], ids=[c[0] for c in BAD_INPUT])
def test_bad_input_gets_an_error_reply_and_the_heater_stays_on(bath, raw_line, code):
    service, client, before = bath
    raw = Raw(service.socket_path)
    raw.send(raw_line + b"\n" + b'{"id": "after", "op": "samples"}\n')
    reply = raw.reply()
    assert (reply["ok"], reply["error"]["code"]) == (False, code), reply
    assert reply["error"]["message"]
    assert raw.reply()["id"] == "after"  # the connection goes on
    raw.close()
    untouched(service, client, before)


# -- long lines ---------------------------------------------------------------------------------

def padded(size: int, op: str = "status") -> bytes:
    core = json.dumps({"id": "long", "op": op}).encode()
    return core[:-1] + b" " * (size - len(core)) + b"}"


def test_a_line_of_exactly_64_kib_is_answered(bath):
    service, client, before = bath
    raw = Raw(service.socket_path)
    raw.send(padded(p.MAX_LINE) + b"\n")
    reply = raw.reply()
    assert (reply["id"], reply["ok"], reply["result"]["heater"]) == ("long", True, True)
    raw.close()
    untouched(service, client, before)


def _sent_until_closed(raw: Raw, data: bytes, chunk: int) -> None:
    """Send, stopping quietly where the server has closed the connection."""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        for start in range(0, len(data), chunk):
            raw.send(data[start:start + chunk])


@pytest.mark.parametrize(("name", "data", "chunk"), [
    # One byte over, newline and all in one write: the server still sees it whole.
    ("one byte over", padded(p.MAX_LINE + 1, "heater_off") + b"\n", 1 << 20),
    # No newline ever: refused as soon as 64 KiB have come without one.
    ("a megabyte, no newline", b"x" * (1 << 20), 4096),
    # What follows an overlong line is never run, even a valid request.
    ("then a valid request", b"[" * 70000 + b'\n{"id": 1, "op": "heater_off"}\n', 1 << 20),
])
def test_a_line_over_64_kib_gets_an_error_then_the_connection_closes(bath, name, data, chunk):
    service, client, before = bath
    raw = Raw(service.socket_path)
    _sent_until_closed(raw, data, chunk)
    replies = raw.replies_until_closed()
    assert replies == [{"id": None, "ok": False, "error": {
        "code": "too_long", "message": "line longer than 65536 bytes; the connection is closed"}}]
    raw.close()
    settle(client)
    assert len(service.server.clients) == 1  # only the checking client is left
    untouched(service, client, before)


# -- clients that vanish or say nothing -----------------------------------------------------------

@pytest.mark.parametrize("how", ["close", "shutdown"])
def test_a_request_cut_off_by_a_vanishing_client_is_never_run(bath, how):
    service, client, before = bath
    raw = Raw(service.socket_path)
    raw.send(b'{"id": 1, "op": "status"}\n{"id": 2, "op": "heater_off"}')  # no newline: unfinished
    assert raw.reply()["id"] == 1
    if how == "shutdown":
        raw.sock.shutdown(socket.SHUT_WR)  # half-closed: it could still read a reply
        assert raw.replies_until_closed() == []
    raw.close()
    settle(client)
    assert len(service.server.clients) == 1
    untouched(service, client, before)


def test_a_client_that_vanishes_before_reading_its_replies(bath):
    service, client, before = bath
    raw = Raw(service.socket_path)
    raw.send(b'{"op": "routines"}\n' * 500)
    raw.close()
    settle(client)
    assert len(service.server.clients) == 1
    untouched(service, client, before)


def test_a_client_that_connects_and_says_nothing_holds_nobody_up(bath):
    service, client, before = bath
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.connect(str(service.socket_path))
    try:
        settle(client)
        assert len(service.server.clients) == 2
        untouched(service, client, before)  # answered, and the bath stepped, while it waits
        for _ in range(5):
            service.step_simulation()
        settle(client)
        with pytest.raises(BlockingIOError):
            silent.recv(1, socket.MSG_DONTWAIT)  # nothing was sent to it, and it is still open
    finally:
        silent.close()
    settle(client)
    assert len(service.server.clients) == 1


# -- 10,000 random and malformed lines --------------------------------------------------------------

BARRAGE = settings(max_examples=160, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
LINES_PER_EXAMPLE = 16
LINES_PER_TEST = 2500  # four tests: 10,000 lines
CONNECTIONS = 4


def _strict(line: bytes):
    """The line as strict JSON (UTF-8, no NaN, each field once), or None."""
    def unique(pairs):
        if len({k for k, _ in pairs}) != len(pairs):
            raise ValueError("a field twice")
        return dict(pairs)

    def no_constant(name):
        raise ValueError(name)

    try:
        return json.loads(line.decode("utf-8"), parse_constant=no_constant, object_pairs_hook=unique)
    except (ValueError, RecursionError):
        return None


def _echoable(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int) or (isinstance(value, str) and len(value) <= p.MAX_ID_CHARS)


def _acts(line: bytes) -> bool:
    """A valid request that changes the bath or the connection (left to the other tests)."""
    try:
        request = p.parse_request(line)
    except p.ProtocolError:
        return False
    return request.op in CHANGING or request.op == "watch"


class Barrage:
    """Lines over several connections; after each batch a marker request, so that every reply
    to the batch is known to be in: exactly one per line that is not blank."""

    def __init__(self, service):
        self.service = service
        self.connections: list[Raw | None] = [None] * CONNECTIONS
        self.lines = 0
        self.marks = 0

    def send(self, which: int, lines: list[bytes]) -> None:
        if self.connections[which] is None:
            self.connections[which] = Raw(self.service.socket_path)
        raw = self.connections[which]
        self.marks += 1
        mark = f"mark-{self.marks}"
        raw.send(b"".join(line + b"\n" for line in lines) + b'{"id": "%s", "op": "mark"}\n' % mark.encode())
        replies = []
        while (reply := raw.reply()).get("id") != mark:
            replies.append(reply)
        answered = [line for line in lines if line.strip()]  # a blank line is no request
        assert len(replies) == len(answered), (lines, replies)
        for line, reply in zip(answered, replies, strict=True):
            self.check(line, reply)
        self.lines += len(lines)

    @staticmethod
    def check(line: bytes, reply: dict) -> None:
        message = _strict(line)
        if isinstance(message, dict) and _echoable(message.get("id")):
            assert reply["id"] == message["id"]
        if reply["ok"]:
            assert set(reply) == {"id", "ok", "result"}
            assert p.parse_request(line).op in ("status", "routines", "samples", "check_pin")
        else:
            assert set(reply) == {"id", "ok", "error"}
            assert reply["error"]["code"] in CODES, reply
            assert isinstance(reply["error"]["message"], str) and reply["error"]["message"]

    def close(self) -> None:
        for raw in self.connections:
            if raw is not None:
                raw.close()


def no_newline(data: bytes) -> bytes:
    return data.replace(b"\n", b" ")


def batches(line_strategy):
    lines = line_strategy.filter(lambda line: not _acts(line))
    return st.tuples(st.integers(0, CONNECTIONS - 1),
                     st.lists(lines, min_size=LINES_PER_EXAMPLE, max_size=LINES_PER_EXAMPLE))


def run_barrage(bath, line_strategy) -> None:
    service, client, before = bath
    barrage = Barrage(service)

    @BARRAGE
    @given(batch=batches(line_strategy))
    def send(batch):
        which, lines = batch
        barrage.send(which, lines)

    try:
        send()
    finally:
        barrage.close()
    assert barrage.lines >= LINES_PER_TEST
    settle(client)
    assert len(service.server.clients) == 1
    untouched(service, client, before)


NAMES = st.sampled_from(["id", "op", "pin", "routine", "seconds", "", "a", "\u00e9", "\x00"])
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=16)
JSON_VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(NAMES, inner, max_size=4),
    max_leaves=8)
# Request fields: flat values are cheap to draw, and deep ones are the other tests' business.
FIELD = SCALARS | st.lists(SCALARS, max_size=3) | st.dictionaries(NAMES, SCALARS, max_size=2)
REQUESTS = st.fixed_dictionaries(
    {"op": st.sampled_from(sorted(p.OPS)) | st.text(max_size=12) | FIELD},
    optional={"id": FIELD, "routine": FIELD | st.sampled_from(["classic", "quick", "nosuch"]),
              "profile": FIELD | st.sampled_from(["standard", "gentle"]),
              "seconds": FIELD | st.integers(-10, 1000), "pin": FIELD | st.just("1234"),
              "action": FIELD | st.sampled_from(["start", "next", "cancel"]),
              "extra": FIELD})
VALID_LINES = [json.dumps(m).encode() for m in (
    {"id": 1, "op": "start", "routine": "classic", "profile": "gentle"}, {"id": 2, "op": "stop"},
    {"id": 3, "op": "heater_off"}, {"id": 4, "op": "extend", "seconds": 60}, {"op": "pause"},
    {"op": "confirm"}, {"op": "next"}, {"op": "back"}, {"op": "resume"},
    {"op": "ack_fault", "pin": "1234"}, {"op": "clean", "pin": "1234", "action": "start"},
    {"id": "s", "op": "status"}, {"op": "routines"}, {"op": "samples"}, {"op": "check_pin", "pin": "1"})]


@st.composite
def mutated(draw) -> bytes:
    """A valid request with bytes flipped, cut, doubled or let in."""
    line = bytearray(draw(st.sampled_from(VALID_LINES)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(line)))
        kind = draw(st.sampled_from(["flip", "delete", "insert", "cut", "double"]))
        if kind == "flip" and at < len(line):
            line[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "delete":
            del line[at:at + draw(st.integers(1, 6))]
        elif kind == "insert":
            line[at:at] = draw(st.binary(min_size=1, max_size=6))
        elif kind == "cut":
            del line[at:]
        else:
            line += line[at:]
    return no_newline(bytes(line))


NASTY = st.one_of(
    st.integers(1, 5000).map(lambda n: b"[" * n),
    st.integers(1, 3000).map(lambda n: b'{"a":' * n + b"0" + b"}" * n),
    st.integers(1, 2000).map(lambda n: b'{"op": "start", "routine": ' + b"[" * n + b"]" * n + b"}"),
    st.integers(1, 4500).map(lambda n: b'{"op": "extend", "seconds": ' + b"9" * n + b"}"),
    st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999", b"1e-999"]).map(
        lambda v: b'{"op": "extend", "id": ' + v + b', "seconds": ' + v + b"}"),
    st.binary(min_size=1, max_size=40).map(lambda b: b'{"op": "status", "id": "' + no_newline(b) + b'"}'),
)


def test_random_bytes_and_text(bath):
    run_barrage(bath, st.binary(max_size=160).map(no_newline)
                | st.text(max_size=120).map(lambda t: no_newline(t.encode("utf-8", "surrogatepass"))))


def test_random_json_values_with_nan_and_infinity(bath):
    run_barrage(bath, JSON_VALUES.map(lambda v: json.dumps(v, allow_nan=True).encode()))


def test_random_request_shaped_objects(bath):
    run_barrage(bath, REQUESTS.map(lambda v: json.dumps(v, allow_nan=True).encode()))


def test_mutated_requests_deep_nesting_and_huge_numbers(bath):
    run_barrage(bath, mutated() | NASTY)


# -- many watchers, vanishing watchers, a watcher that never reads, a flood ---------------------

def _latest(stream, now_s: float) -> dict:
    """The snapshot of the step at now_s (earlier ones may come first, later ones may be skipped
    for a slow reader: only the newest status matters)."""
    snapshot = next(stream)
    while snapshot["now_s"] < round(now_s, 3):
        snapshot = next(stream)
    return snapshot


def test_twenty_watchers_all_get_every_update(bath):
    service, client, _ = bath
    watchers = [Client(service.socket_path, timeout_s=WAIT_S) for _ in range(20)]
    try:
        streams = [w.watch() for w in watchers]
        for stream in streams:
            assert next(stream)["phase"] == "heating"
        settle(client)
        assert len(service.server.clients) == 21
        for _ in range(5):
            now_s = service.step_simulation()
            for stream in streams:
                snapshot = _latest(stream, now_s)
                assert (snapshot["now_s"], snapshot["heater"]) == (round(now_s, 3), True)
    finally:
        for watcher in watchers:
            watcher.close()
    settle(client)
    assert len(service.server.clients) == 1


def _raw_latest(raw: Raw, now_s: float) -> dict:
    while (snapshot := raw.reply()["result"])["now_s"] < round(now_s, 3):
        pass
    return snapshot


def test_watchers_that_vanish_mid_stream_are_cleaned_up(bath):
    service, client, before = bath
    watchers = [Raw(service.socket_path) for _ in range(10)]
    for raw in watchers:
        raw.send(b'{"id": "w", "op": "watch"}\n')
        assert raw.reply()["result"] == {"watching": True}
        assert raw.reply()["id"] == "watch"
    for _ in range(3):
        service.step_simulation()  # snapshots pile up unread in the watchers' sockets
    for raw in watchers[:3]:
        raw.close()  # with unread data: an abrupt close
    watchers[3].sock.shutdown(socket.SHUT_RDWR)
    watchers[3].close()
    watchers[4].send(b'{"op": "sta')  # gone in the middle of a line
    watchers[4].close()
    for _ in range(3):
        now_s = service.step_simulation()  # the server writes to the vanished ones too
    settle(client)
    assert len(service.server.clients) == 6
    for raw in watchers[5:]:
        assert _raw_latest(raw, now_s)["now_s"] == round(now_s, 3)  # the others go on
        raw.close()
    settle(client)
    assert len(service.server.clients) == 1
    status = client.request("status")
    assert (status["phase"], status["heater"]) == (before["phase"], True)


def test_a_watcher_that_never_reads_costs_at_most_one_snapshot(bath):
    service, client, _ = bath
    lazy = Raw(service.socket_path)
    lazy.send(b'{"id": "lazy", "op": "watch"}\n')  # and then never a read
    snapshot_bytes = len(p.reply_ok("watch", client.request("status")))
    held = []
    for _ in range(400):  # far more than the socket's own buffer takes
        service.step_simulation()
        settle(client)  # every step's snapshot has been offered to the watcher
        held.append(max(len(c.outbuf) for c in list(service.server.clients.values())))
        assert client.request("status")["heater"] is True  # everyone else is still answered
    assert 0 < held[-1] <= 2 * snapshot_bytes  # the socket is full; the server holds one, no more
    assert max(held) <= 2 * snapshot_bytes
    assert len(service.server.clients) == 2  # kept: a slow watcher skips snapshots, nothing piles up
    lazy.close()


def test_a_client_that_floods_requests_and_never_reads_is_dropped(bath):
    service, client, before = bath
    flood = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    flood.connect(str(service.socket_path))
    flood.setblocking(False)
    requests = b'{"op": "status"}\n' * 200
    reply_bytes = len(p.reply_ok(None, before)) + 200
    held, dropped = [], False
    try:
        for _ in range(10_000):
            try:
                flood.send(requests)
                continue
            except BlockingIOError:
                pass  # its socket is full: let the server read and answer
            except (BrokenPipeError, ConnectionResetError):
                dropped = True
                break
            settle(client)
            held.append(max(len(c.outbuf) for c in list(service.server.clients.values())))
    finally:
        flood.close()
    assert dropped
    # However fast the drop came (the socket may never have filled on this side), what the
    # server held for it never passed its limit.
    assert max(held, default=0) <= MAX_OUT + reply_bytes
    settle(client)
    assert len(service.server.clients) == 1
    untouched(service, client, before)
