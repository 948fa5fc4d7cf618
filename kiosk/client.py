"""The local API client, shared by the staff commands and the touchscreen."""

from __future__ import annotations

import errno
import itertools
import json
import socket
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import KioskError


class ServiceUnavailable(KioskError):
    """The controller cannot be reached; the message says why and what to do."""


class ApiError(KioskError):
    """The controller answered with an error."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class Client:
    """One connection to the controller; requests are answered in order."""

    def __init__(self, path: Path, *, timeout_s: float = 5.0):
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be above 0, not {timeout_s!r}")
        self.path = Path(path)
        self.timeout_s = timeout_s
        self._ids = itertools.count(1)
        self._sock: socket.socket | None = None
        self._buf = bytearray()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def connect(self) -> None:
        if self._sock is not None:
            return
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            # With Python's own timeout the connect would be non-blocking and a Unix socket whose
            # queue of new connections is full (many clients at once) would fail at once with
            # EAGAIN. Blocking, with a send timeout, it waits up to timeout_s for room instead.
            seconds = int(self.timeout_s)
            micros = int((self.timeout_s - seconds) * 1e6)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", seconds, micros))
            sock.connect(str(self.path))
            sock.settimeout(self.timeout_s)
        except OSError as exc:
            sock.close()
            raise unavailable(self.path, exc, self.timeout_s) from None
        self._sock = sock
        self._buf.clear()

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def request(self, op: str, **args: Any) -> Any:
        self.connect()
        request_id = next(self._ids)
        self._send({"id": request_id, "op": op, **args})
        while True:
            reply = self._receive()
            if reply.get("id") == request_id:
                break
            if reply.get("id") is None and reply.get("ok") is False:
                self.close()  # about the connection (too many clients): the server hangs up
                break
        if reply.get("ok"):
            return reply.get("result")
        error = reply.get("error") or {}
        raise ApiError(error.get("code", "unknown"), error.get("message", "the request failed"))

    def watch(self) -> Iterator[dict]:
        """Status snapshots as the controller pushes them (on change, at least once a second)."""
        self.request("watch")
        while True:
            reply = self._receive()
            if reply.get("id") == "watch" and reply.get("ok"):
                yield reply["result"]

    def _send(self, message: dict) -> None:
        assert self._sock is not None
        try:
            self._sock.sendall(json.dumps(message, allow_nan=False).encode() + b"\n")
        except OSError as exc:
            said = self._parting_words()
            self.close()
            if said is not None:
                raise ApiError(said.get("code", "unknown"), said.get("message", "refused")) from None
            raise unavailable(self.path, exc, self.timeout_s) from None

    def _parting_words(self) -> dict | None:
        """The error a server sent before closing on us (too many connections, say), if any:
        it says more than the broken pipe it leaves."""
        try:
            data = self._sock.recv(65536, socket.MSG_DONTWAIT)
            reply = json.loads(data.split(b"\n", 1)[0])
        except (OSError, ValueError):
            return None
        if isinstance(reply, dict) and reply.get("ok") is False and isinstance(reply.get("error"), dict):
            return reply["error"]
        return None

    def _receive(self) -> dict:
        assert self._sock is not None
        while b"\n" not in self._buf:
            try:
                chunk = self._sock.recv(65536)
            except OSError as exc:
                self.close()
                raise unavailable(self.path, exc, self.timeout_s) from None
            if not chunk:
                self.close()
                raise ServiceUnavailable(f"the footbath service closed the connection ({self.path})")
            self._buf += chunk
        end = self._buf.index(b"\n")
        line = bytes(self._buf[:end])
        del self._buf[: end + 1]
        try:
            reply = json.loads(line)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            self.close()
            raise ServiceUnavailable(f"{self.path} answered with something that is not the footbath "
                                     "API; check paths.socket in the config")
        return reply


def unavailable(path: Path, exc: OSError, timeout_s: float | None = None) -> ServiceUnavailable:
    """The one place that turns a socket error into words for staff."""
    stuck = ("it may be stuck: see `journalctl -u footbath`, or restart it with "
             "`sudo systemctl restart footbath`")
    waited = f" within {timeout_s:g} s" if timeout_s is not None else ""
    if isinstance(exc, TimeoutError):
        return ServiceUnavailable(f"the footbath service did not answer{waited} on {path}; {stuck}")
    if exc.errno == errno.EAGAIN:  # a Unix socket whose queue of new connections stayed full
        return ServiceUnavailable(f"the footbath service did not take the connection{waited} on {path}; "
                                  f"{stuck}")
    if exc.errno in (errno.ENOENT, errno.ECONNREFUSED):
        return ServiceUnavailable(f"the footbath service is not running (no answer on {path}); start "
                                  "it with `sudo systemctl start footbath`, and check paths.socket in "
                                  "the config or run `footbath doctor` if it still does not answer")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return ServiceUnavailable(f"not permitted to use {path}; add your user to the footbath "
                                  "group (`sudo adduser $USER footbath`, then log in again)")
    return ServiceUnavailable(f"cannot reach the footbath service on {path}: {exc.strerror or exc}")
