"""The local API's wire format (kiosk/protocol.py): every request is checked here before the
service sees it, so each rule is shown on its own, and any line at all is shown to give either
a checked request or a ProtocolError, never anything else."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk import protocol as p

BOUNDED = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.too_slow])


def line(**message) -> bytes:
    return json.dumps(message).encode()


def refused(raw: bytes) -> p.ProtocolError:
    with pytest.raises(p.ProtocolError) as info:
        p.parse_request(raw)
    return info.value


# -- what is accepted -----------------------------------------------------------------------

VALID = [
    ({"op": "status"}, {}),
    ({"op": "watch"}, {}),
    ({"op": "routines"}, {}),
    ({"op": "samples"}, {}),
    ({"op": "start", "routine": "classic"}, {"routine": "classic"}),
    ({"op": "start", "routine": "classic", "profile": "gentle"}, {"routine": "classic", "profile": "gentle"}),
    ({"op": "confirm"}, {}),
    ({"op": "pause"}, {}),
    ({"op": "resume"}, {}),
    ({"op": "next"}, {}),
    ({"op": "back"}, {}),
    ({"op": "extend"}, {}),
    ({"op": "extend", "seconds": 60}, {"seconds": 60}),
    ({"op": "extend", "seconds": 1}, {"seconds": 1}),
    ({"op": "extend", "seconds": 600.0}, {"seconds": 600.0}),
    ({"op": "stop"}, {}),
    ({"op": "heater_off"}, {}),
    ({"op": "ack_fault", "pin": "1234"}, {"pin": "1234"}),
    ({"op": "clean", "pin": "1234", "action": "start"}, {"pin": "1234", "action": "start"}),
    ({"op": "clean", "pin": "1234", "action": "next"}, {"pin": "1234", "action": "next"}),
    ({"op": "clean", "pin": "1234", "action": "cancel"}, {"pin": "1234", "action": "cancel"}),
    ({"op": "check_pin", "pin": "1234"}, {"pin": "1234"}),
    ({"op": "buzz", "pattern": [0.06, 0.12, 0.06]}, {"pattern": [0.06, 0.12, 0.06]}),
]


def test_every_op_of_the_issue_is_offered():
    assert set(p.OPS) == {"status", "watch", "routines", "samples", "start", "confirm", "pause", "resume",
                          "next", "back", "extend", "stop", "ack_fault", "clean", "heater_off", "check_pin",
                          "buzz"}
    assert {message["op"] for message, _ in VALID} == set(p.OPS)


@pytest.mark.parametrize(("message", "args"), VALID, ids=[json.dumps(m) for m, _ in VALID])
def test_a_valid_request_is_read_with_its_arguments(message, args):
    request = p.parse_request(line(id=7, **message))
    assert request == p.Request(7, message["op"], args)


@pytest.mark.parametrize("request_id", [None, 0, -3, 2**70, 1.5, "", "abc", "x" * p.MAX_ID_CHARS, "ünï"])
def test_ids_may_be_numbers_or_short_strings_or_left_out(request_id):
    assert p.parse_request(line(id=request_id, op="status")).id == request_id
    assert p.parse_request(line(op="status")).id is None


def test_whitespace_around_the_object_and_a_carriage_return_are_fine():
    assert p.parse_request(b' \t{"op": "status", "id": 1}\r').op == "status"


# -- what is refused, and how it is said ----------------------------------------------------

@pytest.mark.parametrize(("raw", "code", "says"), [
    (b"hello", p.BAD_JSON, "not JSON (Expecting value at column 1)"),
    (b'{"op": "status"', p.BAD_JSON, "not JSON"),
    (b'{"op": "status"}}', p.BAD_JSON, "Extra data"),
    (b"{'op': 'status'}", p.BAD_JSON, "not JSON"),
    (b'{"op": "extend", "seconds": NaN}', p.BAD_JSON, "NaN is not JSON"),
    (b'{"op": "extend", "seconds": Infinity}', p.BAD_JSON, "Infinity is not JSON"),
    (b'{"op": "extend", "seconds": -Infinity}', p.BAD_JSON, "-Infinity is not JSON"),
    (b'{"op": "status", "id": NaN}', p.BAD_JSON, "NaN is not JSON"),
    (b'{"op": "status", "id": ' + b"9" * 5000 + b"}", p.BAD_JSON, "not JSON"),
    (b'{"op": "st\xffatus"}', p.BAD_JSON, "not UTF-8 text (bad byte at 10)"),
    (b"\xef\xbb\xbf" + line(op="status"), p.BAD_JSON, "not JSON"),
    ('{"op": "status"}'.encode("utf-16"), p.BAD_JSON, "not UTF-8"),
    ('{"op": "status"}'.encode("utf-32-le"), p.BAD_JSON, "not JSON"),
    (b"[" * 20000 + b"]" * 20000, p.BAD_JSON, "nested too deeply"),
    (b'{"a":' * 5000 + b"1" + b"}" * 5000, p.BAD_JSON, "nested too deeply"),
    (b"", p.BAD_JSON, "not JSON"),
    (b"[]", p.BAD_REQUEST, 'a request is a JSON object with "op" (got a list)'),
    (b'"status"', p.BAD_REQUEST, "(got the text 'status')"),
    (b"null", p.BAD_REQUEST, "(got null)"),
    (b"12", p.BAD_REQUEST, "(got 12)"),
    (b'{"opp": "status"}', p.BAD_REQUEST, 'missing "op"; ops: status, watch'),
    (b'{"op": 5, "id": null}', p.BAD_REQUEST, '"op" must be a string (got 5)'),
    (b'{"op": ["status"]}', p.BAD_REQUEST, '"op" must be a string (got a list)'),
    (b'{"op": "reboot"}', p.UNKNOWN_OP, "unknown op 'reboot'; ops: status, watch, routines"),
    (b'{"op": "STATUS"}', p.UNKNOWN_OP, "unknown op 'STATUS'"),
    (b'{"op": "history"}', p.UNKNOWN_OP, "unknown op 'history'"),
    (b'{"op": "status", "op": "stop"}', p.BAD_REQUEST, "field 'op' appears twice; send each field once"),
    (b'{"op": "start", "routine": "classic", "routine": "quick"}', p.BAD_REQUEST, "appears twice"),
    (b'{"op": "status", "id": true}', p.BAD_REQUEST, '"id" must be a number or a string of up to 64'),
    (b'{"op": "status", "id": [1]}', p.BAD_REQUEST, "(got a list)"),
    (b'{"op": "status", "id": {"a": 1}}', p.BAD_REQUEST, "(got an object)"),
    (b'{"op": "status", "id": 1e999}', p.BAD_REQUEST, "(got a number that large)"),
    (line(op="status", id="x" * 65), p.BAD_REQUEST, "(got a text of 65 characters)"),
])
def test_a_malformed_line_is_refused_with_a_code_and_a_message_that_says_what_to_send(raw, code, says):
    error = refused(raw)
    assert (error.code, error.request_id) == (code, None)
    assert says in str(error)


# Per op: missing, unknown, wrong type, out of range. The message names the op, the field and
# what is allowed; the request's id comes back with it.
BAD_ARGS = [
    ({"op": "buzz"}, "buzz: missing field 'pattern'"),
    ({"op": "buzz", "pattern": []}, "buzz: pattern must be a list of 1 to 10 durations"),
    ({"op": "buzz", "pattern": [0.1] * 11}, "buzz: pattern must be a list of 1 to 10 durations"),
    ({"op": "buzz", "pattern": [5]}, "buzz: pattern must be a list of 1 to 10 durations"),
    ({"op": "buzz", "pattern": [True]}, "buzz: pattern must be a list of 1 to 10 durations"),
    ({"op": "status", "verbose": True}, "status: unknown field 'verbose'; fields: none"),
    ({"op": "watch", "every_s": 1}, "watch: unknown field 'every_s'; fields: none"),
    ({"op": "routines", "filter": "x"}, "routines: unknown field 'filter'; fields: none"),
    ({"op": "samples", "since": 0}, "samples: unknown field 'since'; fields: none"),
    ({"op": "start"}, "start: missing field 'routine'"),
    ({"op": "start", "profile": "gentle"}, "start: missing field 'routine'"),
    ({"op": "start", "routine": "classic", "target_c": 45}, "start: unknown field 'target_c'; "
                                                           "fields: routine, profile"),
    ({"op": "start", "routine": 5}, "start: routine must be text of 1 to 64 characters (got 5)"),
    ({"op": "start", "routine": ""}, "start: routine must be text of 1 to 64 characters (got the text '')"),
    ({"op": "start", "routine": "r" * 65}, "routine must be text of 1 to 64 characters (got a text of 65"),
    ({"op": "start", "routine": None}, "start: routine must be text of 1 to 64 characters (got null)"),
    ({"op": "start", "routine": "classic", "profile": "hot"},
     "start: profile must be one of standard, gentle (got the text 'hot')"),
    ({"op": "start", "routine": "classic", "profile": ["gentle"]}, "profile must be one of standard, gentle"),
    ({"op": "start", "routine": "classic", "profile": None}, "profile must be one of standard, gentle"),
    ({"op": "confirm", "now": True}, "confirm: unknown field 'now'; fields: none"),
    ({"op": "pause", "seconds": 10}, "pause: unknown field 'seconds'; fields: none"),
    ({"op": "resume", "x": 1}, "resume: unknown field 'x'"),
    ({"op": "next", "step": 3}, "next: unknown field 'step'"),
    ({"op": "back", "step": 1}, "back: unknown field 'step'"),
    ({"op": "stop", "why": "x"}, "stop: unknown field 'why'"),
    ({"op": "heater_off", "pin": "1234"}, "heater_off: unknown field 'pin'; fields: none"),
    ({"op": "extend", "minutes": 1}, "extend: unknown field 'minutes'; fields: seconds"),
    ({"op": "extend", "seconds": 0}, "extend: seconds must be a number of seconds from 1 to 600 (got 0)"),
    ({"op": "extend", "seconds": 0.5}, "seconds must be a number of seconds from 1 to 600 (got 0.5)"),
    ({"op": "extend", "seconds": 601}, "seconds must be a number of seconds from 1 to 600 (got 601)"),
    ({"op": "extend", "seconds": -60}, "from 1 to 600 (got -60)"),
    ({"op": "extend", "seconds": "60"}, "from 1 to 600 (got the text '60')"),
    ({"op": "extend", "seconds": True}, "from 1 to 600 (got true)"),
    ({"op": "extend", "seconds": None}, "from 1 to 600 (got null)"),
    ({"op": "extend", "seconds": [60]}, "from 1 to 600 (got a list)"),
    ({"op": "extend", "seconds": 10**400}, "from 1 to 600 (got a number that large)"),
    ({"op": "extend", "seconds": -(10**400)}, "from 1 to 600 (got a number that large)"),
    ({"op": "extend", "seconds": 1e300}, "from 1 to 600 (got a number that large)"),
    ({"op": "ack_fault"}, "ack_fault: missing field 'pin'"),
    ({"op": "ack_fault", "pin": 1234}, "ack_fault: pin must be text of 1 to 32 characters (got 1234)"),
    ({"op": "ack_fault", "pin": ""}, "ack_fault: pin must be text of 1 to 32 characters"),
    ({"op": "ack_fault", "pin": "1" * 33}, "pin must be text of 1 to 32 characters (got the text"),
    ({"op": "ack_fault", "pin": "1234", "who": "anna"}, "ack_fault: unknown field 'who'; fields: pin"),
    ({"op": "clean", "pin": "1234"}, "clean: missing field 'action'"),
    ({"op": "clean", "action": "start"}, "clean: missing field 'pin'"),
    ({"op": "clean", "pin": "1234", "action": "begin"},
     "clean: action must be one of start, next, cancel (got the text 'begin')"),
    ({"op": "clean", "pin": 1234, "action": "start"}, "clean: pin must be text of 1 to 32 characters"),
    ({"op": "clean", "pin": "1234", "action": "start", "step": 2},
     "clean: unknown field 'step'; fields: pin, action"),
    ({"op": "check_pin"}, "check_pin: missing field 'pin'"),
    ({"op": "check_pin", "pin": {"a": 1}},
     "check_pin: pin must be text of 1 to 32 characters (got an object)"),
]


@pytest.mark.parametrize(("message", "says"), BAD_ARGS, ids=[json.dumps(m)[:60] for m, _ in BAD_ARGS])
def test_bad_arguments_are_refused_per_op_with_what_is_allowed(message, says):
    error = refused(line(id="r1", **message))
    assert (error.code, error.request_id) == (p.BAD_REQUEST, "r1")
    assert says in str(error)


def test_every_op_that_takes_arguments_has_its_bad_arguments_listed():
    tested = {message["op"] for message, _ in BAD_ARGS}
    assert tested == set(p.OPS)
    for op, (required, optional) in p.OPS.items():
        for name in (*required, *optional):
            assert any(m["op"] == op and name in m for m, _ in BAD_ARGS), (op, name)


def test_a_message_never_repeats_a_huge_value():
    error = refused(line(op="start", routine="x" * 60000))
    assert len(str(error)) < 200
    error = refused(line(op="x" * 60000))
    assert len(str(error)) < 400


# -- line length ------------------------------------------------------------------------------

def padded(size: int) -> bytes:
    """A valid status request of exactly `size` bytes (JSON allows any amount of spaces)."""
    core = line(id=1, op="status")
    return core[:-1] + b" " * (size - len(core)) + b"}"


def test_a_line_of_exactly_64_kib_is_read_and_one_byte_more_is_too_long():
    assert len(padded(p.MAX_LINE)) == p.MAX_LINE == 64 * 1024
    assert p.parse_request(padded(p.MAX_LINE)).op == "status"
    error = refused(padded(p.MAX_LINE + 1))
    assert error.code == p.TOO_LONG
    assert str(error) == "line longer than 65536 bytes"


# -- replies ----------------------------------------------------------------------------------

def test_replies_have_the_documented_shape_on_one_line():
    ok = p.reply_ok(3, {"phase": "idle"})
    assert ok.endswith(b"\n") and ok.count(b"\n") == 1
    assert json.loads(ok) == {"id": 3, "ok": True, "result": {"phase": "idle"}}
    error = p.reply_error("a", p.BAD_JSON, "not JSON\nreally")
    assert error.count(b"\n") == 1
    assert json.loads(error) == {"id": "a", "ok": False,
                                 "error": {"code": "bad_json", "message": "not JSON\nreally"}}


def test_a_reply_that_is_not_strict_json_is_never_written():
    with pytest.raises(ValueError):
        p.reply_ok(1, {"water_c": float("nan")})


# -- any line at all ---------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
REQUESTS = st.fixed_dictionaries(
    {"op": st.sampled_from(sorted(p.OPS)) | st.text(max_size=10) | JSON_VALUES},
    optional={"id": JSON_VALUES, "routine": JSON_VALUES | st.sampled_from(["classic", "quick"]),
              "profile": JSON_VALUES | st.sampled_from(["standard", "gentle"]),
              "seconds": JSON_VALUES | st.integers(1, 600), "pin": JSON_VALUES | st.just("1234"),
              "action": JSON_VALUES | st.sampled_from(["start", "next", "cancel"]),
              "x": JSON_VALUES})
LINES = (st.binary(max_size=300)
         | st.text(max_size=200).map(str.encode)
         | JSON_VALUES.map(lambda v: json.dumps(v).encode())
         | REQUESTS.map(lambda v: json.dumps(v).encode()))


def _checked(request: p.Request) -> None:
    """What a parsed request promises the service: a known op, only its fields, each valid."""
    required, optional = p.OPS[request.op]
    assert set(required) <= set(request.args) <= set(required) | set(optional)
    for name, value in request.args.items():
        assert (required.get(name) or optional[name])(value) is None
    assert p.reply_ok(request.id, None)  # the id can always be echoed


@BOUNDED
@given(raw=LINES)
def test_any_line_gives_a_checked_request_or_a_protocol_error(raw):
    try:
        request = p.parse_request(raw)
    except p.ProtocolError as exc:
        assert exc.code in (p.BAD_JSON, p.BAD_REQUEST, p.UNKNOWN_OP, p.TOO_LONG)
        assert str(exc)
        p.reply_error(exc.request_id, exc.code, str(exc))  # and the error can be sent
        return
    _checked(request)
