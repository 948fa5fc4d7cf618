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


class _Client:
    __slots__ = ("closed", "closing", "conn", "fd", "inbuf", "outbuf", "sent_at", "sent_version",
                 "watching")

    def __init__(self, conn: socket.socket):
        self.conn = conn
        self.fd = conn.fileno()
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.watching = False
        self.sent_version = -1
        self.sent_at = 0.0
        self.closing = False  # an error is on its way out; nothing more is read
        self.closed = False


class ApiServer:
    """Serves `handler(request) -> result` on `path`; `publish(status)` feeds the watchers.

    `clock` (monotonic seconds) only times the once-a-second snapshots; tests pass their own.
    """

    def __init__(self, path: Path, handler: Callable[[p.Request], Any], *,
                 status: Callable[[], dict], mode: int = 0o660,
                 clock: Callable[[], float] = time.monotonic):
        self.path = Path(path)
        self.handler = handler
        self.status = status
        self.clock = clock
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
        listener.listen(MAX_CLIENTS)  # a burst of clients waits in the queue, not refused
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
        """Called from the control loop: the newest status, sent to watchers when it changed.
        Never raises: a status that cannot be sent must not stop the control loop."""
        try:
            encoded = p.reply_ok("watch", status)
        except (TypeError, ValueError):
            log.exception("api: the status cannot be sent as JSON")
            return
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
                events = self.selector.select(timeout=self._timeout_s())
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
            try:
                self._feed_watchers()
            except Exception:  # pragma: no cover - a bug here must not end the API
                log.exception("api: error feeding the watchers")

    def _timeout_s(self) -> float:
        # A watcher still sending is left out: the end of its write wakes the loop anyway.
        return select_timeout_s(self.clock(), [c.sent_at for c in self.clients.values()
                                               if c.watching and not c.closing and not c.outbuf])

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
            if mask & selectors.EVENT_WRITE and not client.closed:
                self._write(client)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            if len(self.clients) >= MAX_CLIENTS:
                conn.setblocking(False)
                with contextlib.suppress(OSError):  # a fresh socket's buffer takes this at once
                    conn.send(p.reply_error(None, p.BUSY, f"the service already has {MAX_CLIENTS} "
                                            "connections; close some and try again"))
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
        if client.closing:
            return
        client.inbuf += data
        while not client.closing:  # a drop (buffer full, peer gone) also ends the loop
            end = client.inbuf.find(b"\n")
            if end > p.MAX_LINE or (end < 0 and len(client.inbuf) > p.MAX_LINE):
                self._too_long(client)
                return
            if end < 0:
                return
            line = bytes(client.inbuf[:end])
            del client.inbuf[: end + 1]
            if line.strip():
                self._send(client, self._answer(client, line))

    def _too_long(self, client: _Client) -> None:
        """Whatever follows an overlong line cannot be trusted to start a request: say so, close."""
        client.closing = True
        client.inbuf.clear()
        self._send(client, p.reply_error(None, p.TOO_LONG, f"line longer than {p.MAX_LINE} bytes; "
                                         "the connection is closed"))
        if client.outbuf:  # a client that is not reading does not get to hold its slot
            self._drop(client)

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
            result = self.handler(request)
        except p.ApiRefused as exc:
            return p.reply_error(request.id, exc.code, str(exc))
        except (KioskError, ValueError) as exc:
            return p.reply_error(request.id, p.REFUSED, str(exc))
        except Exception as exc:
            log.exception("api: %s failed", request.op)
            return p.reply_error(request.id, p.INTERNAL, f"internal error: {type(exc).__name__}; "
                                 "see the service's log")
        try:
            return p.reply_ok(request.id, result)
        except (TypeError, ValueError):
            log.exception("api: the result of %s cannot be sent as JSON", request.op)
            return p.reply_error(request.id, p.INTERNAL, f"internal error: the {request.op} result "
                                 "cannot be sent; see the service's log")

    def _feed_watchers(self) -> None:
        watchers = [c for c in self.clients.values() if c.watching and not c.closing]
        if not watchers:
            return
        with self._lock:
            version, published = self._version, self._published
        now = self.clock()
        current: bytes | None = None
        for client in watchers:
            fresh = version != client.sent_version
            if not fresh and now - client.sent_at < WATCH_EVERY_S:
                continue
            if client.outbuf:  # still sending the last one: skip, never queue up
                continue
            message = published if fresh and published else None
            if message is None:  # nothing new: the status as it is now, built once for all
                current = current or self._current()
                message = current
            client.sent_at = now  # also when there is nothing to send: try again in a second
            if message is None:
                continue
            client.sent_version = version
            self._send(client, message)

    def _current(self) -> bytes | None:
        try:
            return p.reply_ok("watch", self.status())
        except Exception:
            log.exception("api: cannot build the status")
            return None

    def _send(self, client: _Client, data: bytes) -> None:
        if client.closed:
            return
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
        if client.closed:
            return
        client.closed = client.closing = True  # its requests still in the buffer are not run
        if self.clients.get(client.fd) is client:
            del self.clients[client.fd]
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.selector.unregister(client.conn)
        with contextlib.suppress(OSError):
            client.conn.close()


def select_timeout_s(now_s: float, sent_at_s: list[float]) -> float:
    """How long the loop may wait for events: until the next watcher is due its once-a-second
    snapshot (at once if one is overdue), and never longer than WATCH_EVERY_S."""
    due_s = min((at + WATCH_EVERY_S for at in sent_at_s), default=now_s + WATCH_EVERY_S)
    return min(WATCH_EVERY_S, max(0.0, due_s - now_s))


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
