"""The local API client, shared by the staff commands and the touchscreen."""

from __future__ import annotations

import errno
import itertools
import json
import socket
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
        sock.settimeout(self.timeout_s)
        try:
            sock.connect(str(self.path))
        except OSError as exc:
            sock.close()
            raise unavailable(self.path, exc) from None
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
            self._sock.sendall(json.dumps(message).encode() + b"\n")
        except OSError as exc:
            self.close()
            raise unavailable(self.path, exc) from None

    def _receive(self) -> dict:
        assert self._sock is not None
        while b"\n" not in self._buf:
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                self.close()
                raise ServiceUnavailable(f"the footbath service did not answer within "
                                         f"{self.timeout_s:g} s ({self.path})") from None
            except OSError as exc:
                self.close()
                raise unavailable(self.path, exc) from None
            if not chunk:
                self.close()
                raise ServiceUnavailable(f"the footbath service closed the connection ({self.path})")
            self._buf += chunk
        end = self._buf.index(b"\n")
        line = bytes(self._buf[:end])
        del self._buf[: end + 1]
        return json.loads(line)


def unavailable(path: Path, exc: OSError) -> ServiceUnavailable:
    if exc.errno in (errno.ENOENT, errno.ECONNREFUSED):
        return ServiceUnavailable(f"the footbath service is not running (no answer on {path}); "
                                  "start it with `systemctl start footbath` or check `footbath doctor`")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return ServiceUnavailable(f"not permitted to use {path}; add your user to the footbath "
                                  "group (`sudo adduser $USER footbath`, then log in again)")
    return ServiceUnavailable(f"cannot reach the footbath service on {path}: {exc.strerror or exc}")
