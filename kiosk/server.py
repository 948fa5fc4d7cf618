"""The local API server: a Unix stream socket, one thread, non-blocking, bounded buffers.

One selector loop serves every client, so a client that sends junk, vanishes mid-stream or
never reads can cost at most its own bounded buffers, never the service. Requests are passed
to a handler; `watch` connections get the newest status pushed on every change and at least
once a second (a slow watcher skips snapshots instead of queueing them).
"""

from __future__ import annotations

import contextlib
import errno
import grp
import logging
import os
import selectors
import socket
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import protocol as p
from .errors import KioskError

log = logging.getLogger(__name__)

MAX_OUT = 1024 * 1024  # a client that lets this much pile up unread is dropped
MAX_CLIENTS = 64
WATCH_EVERY_S = 1.0
SOCKET_GROUP = "footbath"


class ApiRefused(KioskError):
    """A handler's way of saying no: becomes an error reply with this code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class _Client:
    __slots__ = ("closing", "conn", "fd", "inbuf", "outbuf", "sent_at", "sent_version", "watching")

    def __init__(self, conn: socket.socket):
        self.conn = conn
        self.fd = conn.fileno()
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.watching = False
        self.sent_version = -1
        self.sent_at = 0.0
        self.closing = False


class ApiServer:
    """Serves `handler(request) -> result` on `path`; `publish(status)` feeds the watchers."""

    def __init__(self, path: Path, handler: Callable[[p.Request], Any], *,
                 status: Callable[[], dict], mode: int = 0o660):
        self.path = Path(path)
        self.handler = handler
        self.status = status
        self.selector = selectors.DefaultSelector()
        self.clients: dict[int, _Client] = {}
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._version = 0
        self._published: bytes | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listener = self._listen(mode)

    def _listen(self, mode: int) -> socket.socket:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise KioskError(f"cannot create {self.path.parent}: {exc.strerror}") from None
        if self.path.exists() or self.path.is_symlink():
            if _answers(self.path):
                raise KioskError(f"another footbath service is already answering on {self.path}")
            if not stat.S_ISSOCK(self.path.lstat().st_mode):
                raise KioskError(f"{self.path} exists and is not a socket; remove it or change "
                                 "paths.socket")
            self.path.unlink()  # left behind by a crash
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o117)  # never world-accessible, not even for an instant
        try:
            listener.bind(str(self.path))
        except OSError as exc:
            listener.close()
            raise KioskError(f"cannot listen on {self.path}: {exc.strerror}") from None
        finally:
            os.umask(old_umask)
        os.chmod(self.path, mode)
        with contextlib.suppress(KeyError, PermissionError):
            os.chown(self.path, -1, grp.getgrnam(SOCKET_GROUP).gr_gid)
        listener.listen(16)
        listener.setblocking(False)
        self.selector.register(listener, selectors.EVENT_READ, "listen")
        self.selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        return listener

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, name="footbath-api", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake()
        if self._thread and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        for client in list(self.clients.values()):
            self._drop(client)
        with contextlib.suppress(OSError, KeyError, ValueError):
            self.selector.unregister(self.listener)
        self.listener.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._wake_r.close()
        self._wake_w.close()

    def publish(self, status: dict) -> None:
        """Called from the control loop: the newest status, sent to watchers when it changed."""
        encoded = p.reply_ok("watch", status)
        with self._lock:
            if encoded == self._published:
                return
            self._published = encoded
            self._version += 1
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            self._wake_w.send(b"\0")

    # -- the loop -------------------------------------------------------------------------

    def serve_forever(self) -> None:
        while not self._stop.is_set():
            try:
                events = self.selector.select(timeout=WATCH_EVERY_S / 2)
            except OSError:  # pragma: no cover - a selector failure would be a bug
                log.exception("api: select failed")
                continue
            for key, mask in events:
                try:
                    self._dispatch(key, mask)
                except Exception:  # never let one client take the service down
                    log.exception("api: error serving a client")
                    if isinstance(key.data, _Client):
                        self._drop(key.data)
            self._feed_watchers()

    def _dispatch(self, key, mask) -> None:
        if key.data == "listen":
            self._accept()
        elif key.data == "wake":
            with contextlib.suppress(BlockingIOError):
                while self._wake_r.recv(4096):
                    pass
        else:
            client: _Client = key.data
            if mask & selectors.EVENT_READ:
                self._read(client)
            if mask & selectors.EVENT_WRITE and client.fd in self.clients:
                self._write(client)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            if len(self.clients) >= MAX_CLIENTS:
                conn.close()
                continue
            conn.setblocking(False)
            client = _Client(conn)
            self.clients[client.fd] = client
            self.selector.register(conn, selectors.EVENT_READ, client)

    def _read(self, client: _Client) -> None:
        try:
            data = client.conn.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(client)
            return
        client.inbuf += data
        while not client.closing:
            end = client.inbuf.find(b"\n")
            if end < 0:
                if len(client.inbuf) > p.MAX_LINE:
                    self._send(client, p.reply_error(None, p.TOO_LONG,
                                                     f"line longer than {p.MAX_LINE} bytes"))
                    client.closing = True  # close once the error is out
                    client.inbuf.clear()
                return
            line = bytes(client.inbuf[:end])
            del client.inbuf[: end + 1]
            if line.strip():
                self._send(client, self._answer(client, line))

    def _answer(self, client: _Client, line: bytes) -> bytes:
        try:
            request = p.parse_request(line)
        except p.ProtocolError as exc:
            return p.reply_error(exc.request_id, exc.code, str(exc))
        if request.op == "watch":
            client.watching = True
            client.sent_version = -1
            return p.reply_ok(request.id, {"watching": True})
        try:
            return p.reply_ok(request.id, self.handler(request))
        except ApiRefused as exc:
            return p.reply_error(request.id, exc.code, str(exc))
        except (KioskError, ValueError) as exc:
            return p.reply_error(request.id, p.REFUSED, str(exc))
        except Exception as exc:
            log.exception("api: %s failed", request.op)
            return p.reply_error(request.id, p.INTERNAL, f"internal error: {type(exc).__name__}")

    def _feed_watchers(self) -> None:
        watchers = [c for c in self.clients.values() if c.watching and not c.closing]
        if not watchers:
            return
        with self._lock:
            version, published = self._version, self._published
        now = time.monotonic()
        for client in watchers:
            fresh = version != client.sent_version
            if not fresh and now - client.sent_at < WATCH_EVERY_S:
                continue
            if client.outbuf:  # still sending the last one: skip, never queue up
                continue
            message = published if fresh and published else p.reply_ok("watch", self.status())
            client.sent_version, client.sent_at = version, now
            self._send(client, message)

    def _send(self, client: _Client, data: bytes) -> None:
        client.outbuf += data
        if len(client.outbuf) > MAX_OUT:
            self._drop(client)
            return
        self._write(client)

    def _write(self, client: _Client) -> None:
        try:
            sent = client.conn.send(client.outbuf)
            del client.outbuf[:sent]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self._drop(client)
            return
        if client.closing and not client.outbuf:
            self._drop(client)
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if client.outbuf else 0)
        with contextlib.suppress(KeyError, ValueError):
            self.selector.modify(client.conn, events, client)

    def _drop(self, client: _Client) -> None:
        self.clients.pop(client.fd, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.selector.unregister(client.conn)
        with contextlib.suppress(OSError):
            client.conn.close()


def _answers(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
        return True
    except OSError as exc:
        return exc.errno not in (errno.ECONNREFUSED, errno.ENOENT, errno.ENOTSOCK)
    finally:
        probe.close()
