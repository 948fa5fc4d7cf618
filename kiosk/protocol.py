"""The local API's wire format: newline-delimited JSON, one request per line.

Request: {"id": 1, "op": "start", "routine": "classic", "profile": "standard"}
Reply:   {"id": 1, "ok": true, "result": ...}
    or   {"id": 1, "ok": false, "error": {"code": "...", "message": "..."}}

Everything a client sends is checked here before anything else sees it, so a malformed
line can only ever produce an error reply.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

MAX_LINE = 64 * 1024

# Error codes: stable, for programs; the message is for people.
BAD_JSON, BAD_REQUEST, UNKNOWN_OP, TOO_LONG = "bad_json", "bad_request", "unknown_op", "too_long"
REFUSED, UNAUTHORIZED, NOT_FOUND, INTERNAL = "refused", "unauthorized", "not_found", "internal"


def _text(max_len: int):
    def check(value: Any) -> str | None:
        if not isinstance(value, str) or not 0 < len(value) <= max_len:
            return f"text of 1 to {max_len} characters"
        return None
    return check


def _seconds(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not 1 <= value <= 600:
        return "a number of seconds from 1 to 600"
    return None


def _choice(*choices: str):
    def check(value: Any) -> str | None:
        return None if value in choices and isinstance(value, str) else f"one of {', '.join(choices)}"
    return check


PIN = {"pin": _text(32)}
# op -> (required args, optional args), each arg name -> checker returning what is allowed.
OPS: dict[str, tuple[dict, dict]] = {
    "status": ({}, {}),
    "watch": ({}, {}),
    "routines": ({}, {}),
    "history": ({}, {"limit": lambda v: None if isinstance(v, int) and not isinstance(v, bool)
                     and 1 <= v <= 1000 else "a whole number from 1 to 1000"}),
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
}


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
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):
        raise ProtocolError(BAD_JSON, "not a JSON object on one line") from None
    if not isinstance(message, dict):
        raise ProtocolError(BAD_REQUEST, "a request is a JSON object with \"op\"")
    request_id = message.get("id")
    if request_id is not None and (isinstance(request_id, bool) or not isinstance(request_id, int | str)
                                   or (isinstance(request_id, str) and len(request_id) > 64)):
        raise ProtocolError(BAD_REQUEST, "\"id\" must be a number or a short string")
    op = message.get("op")
    if not isinstance(op, str) or op not in OPS:
        raise ProtocolError(UNKNOWN_OP, f"unknown op {str(op)[:40]!r}; ops: {', '.join(OPS)}", request_id)
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
            raise ProtocolError(BAD_REQUEST, f"{op}: {name} must be {problem}", request_id)
    return Request(request_id, op, args)


def encode(message: dict) -> bytes:
    return json.dumps(message, separators=(",", ":"), allow_nan=False).encode() + b"\n"


def reply_ok(request_id: Any, result: Any) -> bytes:
    return encode({"id": request_id, "ok": True, "result": result})


def reply_error(request_id: Any, code: str, message: str) -> bytes:
    return encode({"id": request_id, "ok": False, "error": {"code": code, "message": message}})
