"""The kiosk's line to the controller: a watch stream in, requests out, both off the UI thread.

Statuses and replies are handed to `post` (the app passes Kivy's Clock, so callbacks run on
the UI thread). When the controller goes away the kiosk is told (status None, "reconnecting")
and the link keeps trying until it comes back.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..client import ApiError, Client
from ..errors import KioskError

log = logging.getLogger(__name__)

RETRY_S = 1.0


class Link:
    def __init__(self, socket_path: Path, *, on_status: Callable[[dict | None], None],
                 post: Callable[[Callable[[], None]], None], retry_s: float = RETRY_S):
        self.socket_path = Path(socket_path)
        self.on_status = on_status
        self.post = post
        self.retry_s = retry_s
        self._stop = threading.Event()
        self._requests: queue.Queue = queue.Queue()
        # Set when the watch stream breaks: the controller went away, so the request connection
        # is dead too, and the first request after its return would fail on it (a lost tap).
        self._stale = threading.Event()
        self._watch_client: Client | None = None
        self._threads = [threading.Thread(target=self._watch_loop, name="kiosk-watch", daemon=True),
                         threading.Thread(target=self._request_loop, name="kiosk-requests", daemon=True)]
        self.online = False

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._requests.put(None)
        client = self._watch_client
        if client is not None:
            client.close()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=2)

    def send(self, op: str, on_reply: Callable[[Any], None] | None = None,
             on_error: Callable[[KioskError], None] | None = None, **args: Any) -> None:
        """Queue a request; the reply (a status for most ops) also refreshes the screen at once."""
        self._requests.put((op, args, on_reply, on_error))

    # -- threads ------------------------------------------------------------------------------

    def _watch_loop(self) -> None:
        while not self._stop.is_set():
            client = Client(self.socket_path, timeout_s=5.0)
            self._watch_client = client
            try:
                for status in client.watch():
                    if self._stop.is_set():
                        return
                    self._deliver(status)
            except KioskError as exc:
                log.info("kiosk: controller unavailable: %s", exc)
            except (OSError, ValueError) as exc:
                log.warning("kiosk: watch stream broke: %s", exc)
            finally:
                client.close()
            if self._stop.is_set():
                return
            self._stale.set()
            self._deliver(None)
            self._stop.wait(self.retry_s)

    def _deliver(self, status: dict | None) -> None:
        self.online = status is not None
        self.post(lambda: self.on_status(status))

    def _request_loop(self) -> None:
        client = Client(self.socket_path, timeout_s=5.0)
        while not self._stop.is_set():
            item = self._requests.get()
            if item is None:
                break
            op, args, on_reply, on_error = item
            if self._stale.is_set():
                self._stale.clear()
                client.close()  # the next request connects afresh
            try:
                result = client.request(op, **args)
            except ApiError as exc:
                if on_error is not None:
                    self.post(lambda exc=exc, on_error=on_error: on_error(exc))
                continue
            except KioskError as exc:
                client.close()
                if on_error is not None:
                    self.post(lambda exc=exc, on_error=on_error: on_error(exc))
                continue
            if isinstance(result, dict) and "phase" in result:
                self.post(lambda result=result: self.on_status(result))
            if on_reply is not None:
                self.post(lambda result=result, on_reply=on_reply: on_reply(result))
        client.close()
