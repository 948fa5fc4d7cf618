"""The local API's wire format: newline-delimited JSON, one request per line.

Request: {"id": 1, "op": "start", "routine": "classic", "profile": "standard"}
Reply:   {"id": 1, "ok": true, "result": ...}
    or   {"id": 1, "ok": false, "error": {"code": "...", "message": "..."}}

Everything a client sends is checked here before anything else sees it, so a malformed
line can only ever produce an error reply. The JSON is read strictly: UTF-8 only, no NaN or
Infinity, each field once; a line may be at most MAX_LINE bytes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from .errors import KioskError

MAX_LINE = 64 * 1024

# Error codes: stable, for programs; the message is for people.
BAD_JSON, BAD_REQUEST, UNKNOWN_OP, TOO_LONG = "bad_json", "bad_request", "unknown_op", "too_long"
REFUSED, UNAUTHORIZED, NOT_FOUND, INTERNAL = "refused", "unauthorized", "not_found", "internal"
BUSY = "busy"
MAX_ID_CHARS = 64


def _text(max_len: int):
    def check(value: Any) -> str | None:
        if not isinstance(value, str) or not 0 < len(value) <= max_len:
            return f"text of 1 to {max_len} characters"
        return None
    return check


def _seconds(value: Any) -> str | None:
    # Comparisons only: NaN fails them, and math.isfinite() overflows on a 400-digit integer.
    if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value <= 600:
        return "a number of seconds from 1 to 600"
    return None


def _pattern(value: Any) -> str | None:
    """A buzzer cue: seconds on, off, on, ... (the kiosk's chimes when it has no speaker)."""
    ok = isinstance(value, list) and 1 <= len(value) <= 10 and all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and 0.01 <= v <= 2
        for v in value)
    return None if ok else "a list of 1 to 10 durations, each from 0.01 to 2 seconds"


def _choice(*choices: str):
    def check(value: Any) -> str | None:
        return None if isinstance(value, str) and value in choices else f"one of {', '.join(choices)}"
    return check


PIN = {"pin": _text(32)}
# op -> (required args, optional args), each arg name -> checker returning what is allowed.
OPS: dict[str, tuple[dict, dict]] = {
    "status": ({}, {}),
    "watch": ({}, {}),
    "routines": ({}, {}),
    "samples": ({}, {}),
    "start": ({"routine": _text(64)}, {"profile": _choice("standard", "gentle")}),
    "confirm": ({}, {}),
    "pause": ({}, {}),
    "resume": ({}, {}),
    "next": ({}, {}),
    "back": ({}, {}),
    "extend": ({}, {"seconds": _seconds}),
    "stop": ({}, {}),
    "heater_off": ({}, {}),
    "ack_fault": (PIN, {}),
    "clean": (PIN | {"action": _choice("start", "next", "cancel")}, {}),
    "check_pin": (PIN, {}),
    "buzz": ({"pattern": _pattern}, {}),
}


class ApiRefused(KioskError):
    """A handler's way of saying no: becomes an error reply with this code (one of the codes
    above) and message."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class ProtocolError(ValueError):
    def __init__(self, code: str, message: str, request_id: Any = None):
        super().__init__(message)
        self.code = code
        self.request_id = request_id


@dataclass(frozen=True)
class Request:
    id: Any
    op: str
    args: dict


def parse_request(line: bytes) -> Request:
    """Decode and check one line; raises ProtocolError with the reply's code and message."""
    if len(line) > MAX_LINE:
        raise ProtocolError(TOO_LONG, f"line longer than {MAX_LINE} bytes")
    message = _decode(line)
    if not isinstance(message, dict):
        raise ProtocolError(BAD_REQUEST, f"a request is a JSON object with \"op\" (got {_kind(message)})")
    request_id = message.get("id")
    if not _valid_id(request_id):
        raise ProtocolError(BAD_REQUEST, f"\"id\" must be a number or a string of up to {MAX_ID_CHARS} "
                                         f"characters (got {_kind(request_id)})")
    op = message.get("op")
    if op is None:
        raise ProtocolError(BAD_REQUEST, f"missing \"op\"; ops: {', '.join(OPS)}", request_id)
    if not isinstance(op, str):
        raise ProtocolError(BAD_REQUEST, f"\"op\" must be a string (got {_kind(op)}); ops: {', '.join(OPS)}",
                            request_id)
    if op not in OPS:
        raise ProtocolError(UNKNOWN_OP, f"unknown op {op[:40]!r}; ops: {', '.join(OPS)}", request_id)
    required, optional = OPS[op]
    args = {k: v for k, v in message.items() if k not in ("id", "op")}
    for name in args:
        if name not in required and name not in optional:
            allowed = ", ".join((*required, *optional)) or "none"
            raise ProtocolError(BAD_REQUEST, f"{op}: unknown field {name[:40]!r}; fields: {allowed}",
                                request_id)
    for name in required:
        if name not in args:
            raise ProtocolError(BAD_REQUEST, f"{op}: missing field {name!r}", request_id)
    for name, value in args.items():
        problem = (required.get(name) or optional[name])(value)
        if problem:
            raise ProtocolError(BAD_REQUEST, f"{op}: {name} must be {problem} (got {_kind(value)})",
                                request_id)
    return Request(request_id, op, args)


class _Duplicate(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    # With duplicates, which value counts would be up to the parser: {"op": "status", "op": "stop"}.
    seen: set[str] = set()
    for name, _ in pairs:
        if name in seen:
            raise _Duplicate(f"field {name[:40]!r} appears twice")
        seen.add(name)
    return dict(pairs)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _decode(line: bytes) -> Any:
    """Strict JSON in UTF-8: no NaN or Infinity, no duplicate fields, no guessing other encodings
    (json.loads would take bytes as UTF-16 or UTF-32 too)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(BAD_JSON, f"not UTF-8 text (bad byte at {exc.start}); send one JSON object "
                                      "per line, UTF-8 encoded") from None
    try:
        return json.loads(text, parse_constant=_no_constants, object_pairs_hook=_no_duplicates)
    except _Duplicate as exc:
        raise ProtocolError(BAD_REQUEST, f"{exc}; send each field once") from None
    except json.JSONDecodeError as exc:
        raise ProtocolError(BAD_JSON, f"not JSON ({exc.msg} at column {exc.colno}); send one JSON "
                                      "object per line") from None
    except ValueError as exc:  # NaN or Infinity, or an integer too long to convert
        raise ProtocolError(BAD_JSON, f"not JSON ({str(exc)[:80]}); send one JSON object per line") from None
    except RecursionError:
        raise ProtocolError(BAD_JSON, "not JSON that can be read: nested too deeply") from None


def _valid_id(value: Any) -> bool:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)  # 1e999 reads as infinity, which cannot be echoed as JSON
    return isinstance(value, str) and len(value) <= MAX_ID_CHARS


def _kind(value: Any) -> str:
    """What a client sent, named without repeating it (it may be huge or nested deep)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"the text {value!r}" if len(value) <= 40 else f"a text of {len(value)} characters"
    if isinstance(value, int | float):  # huge ints cannot even be turned into floats
        return repr(value) if -1e15 < value < 1e15 else "a number that large"
    return {"list": "a list", "dict": "an object"}.get(type(value).__name__, type(value).__name__)


def encode(message: dict) -> bytes:
    return json.dumps(message, separators=(",", ":"), allow_nan=False).encode() + b"\n"


def reply_ok(request_id: Any, result: Any) -> bytes:
    return encode({"id": request_id, "ok": True, "result": result})


def reply_error(request_id: Any, code: str, message: str) -> bytes:
    return encode({"id": request_id, "ok": False, "error": {"code": code, "message": message}})
