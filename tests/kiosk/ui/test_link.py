"""The kiosk's line to the controller (kiosk.ui.link), without Kivy: a real service on the
simulated bath, its real API server, and the link's two threads. What the link posts for the
UI thread is run here by the test, in order, as Kivy's clock would."""

from __future__ import annotations

import dataclasses
import queue
import tempfile
import threading
import time
from pathlib import Path

import pytest

from kiosk.client import ApiError
from kiosk.config import Config, Paths
from kiosk.server import ApiServer
from kiosk.service import Service
from kiosk.ui.link import Link


class UiThread:
    """Stands in for Kivy's clock: what the link posts runs only when the test says so."""

    def __init__(self):
        self.posted: queue.Queue = queue.Queue()
        self.statuses: list[dict | None] = []
        self.replies: list = []
        self.errors: list = []

    def post(self, fn) -> None:
        self.posted.put(fn)

    def until(self, condition, what: str, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            try:
                fn = self.posted.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"timed out waiting for {what}") from None
            fn()


@pytest.fixture
def bath():
    with tempfile.TemporaryDirectory(prefix="fbl") as name:  # short: AF_UNIX paths are limited
        folder = Path(name)
        config = dataclasses.replace(Config(), paths=Paths(routines_dir=folder / "routines",
                                                           state_dir=folder / "state",
                                                           socket=folder / "api.sock"))
        service = Service(config, simulate=True, water_c=37.0)
        service.server.start()
        yield service
        service.close()


@pytest.fixture
def link(bath):
    """A started link and the UI thread it posts to."""
    ui = UiThread()
    line = Link(bath.socket_path, on_status=ui.statuses.append, post=ui.post, retry_s=0.05)
    line.start()
    yield line, ui
    bath.server.stop()  # first: the watch read ends at once, not at the next once-a-second push
    line.stop()


def restart_server(service: Service) -> None:
    """The controller's API comes back on the same socket (as after `systemctl restart`)."""
    service.server = ApiServer(service.socket_path, service._handle, status=service.controller.status)
    service.server.start()


def test_statuses_stream_in_and_a_request_s_reply_is_shown_at_once(link):
    link, ui = link
    ui.until(lambda: ui.statuses, "the first status")
    assert ui.statuses[0]["phase"] == "idle" and link.online
    link.send("start", on_reply=ui.replies.append, on_error=ui.errors.append, routine="quick")
    ui.until(lambda: ui.replies, "the reply to start")
    assert ui.replies[0]["phase"] == "fill" and not ui.errors
    assert ui.statuses[-1] == ui.replies[0], "the reply's status did not reach the screen first"


def test_a_refused_request_is_told_and_the_link_goes_on(link):
    link, ui = link
    link.send("pause", on_reply=ui.replies.append, on_error=ui.errors.append)
    ui.until(lambda: ui.errors, "the refusal")
    assert isinstance(ui.errors[0], ApiError) and ui.errors[0].code == "refused"
    link.send("routines", on_reply=ui.replies.append, on_error=ui.errors.append)
    ui.until(lambda: ui.replies, "the routines")
    assert {r["id"] for r in ui.replies[0]} >= {"classic", "quick"} and len(ui.errors) == 1


def test_the_controller_going_away_and_coming_back(link, bath):
    link, ui = link
    link.send("status", on_reply=ui.replies.append, on_error=ui.errors.append)
    ui.until(lambda: ui.replies, "a first request")  # the request connection is open

    bath.server.stop()
    ui.until(lambda: ui.statuses and ui.statuses[-1] is None, "the news that the controller is away")
    assert not link.online

    restart_server(bath)
    ui.until(lambda: ui.statuses[-1] is not None, "statuses again")
    assert link.online
    link.send("start", on_reply=ui.replies.append, on_error=ui.errors.append, routine="quick")
    ui.until(lambda: len(ui.replies) == 2 or ui.errors, "the first request after the return")
    assert not ui.errors, f"the first request after the return (a tap) was lost: {ui.errors}"
    assert bath.controller.status()["phase"] == "fill"


def test_a_request_while_the_controller_is_away_is_refused_not_kept_for_later(link, bath):
    link, ui = link
    ui.until(lambda: ui.statuses, "the first status")
    bath.server.stop()
    ui.until(lambda: ui.statuses[-1] is None, "the controller away")
    link.send("start", on_reply=ui.replies.append, on_error=ui.errors.append, routine="quick")
    ui.until(lambda: ui.errors, "the refusal")
    restart_server(bath)
    ui.until(lambda: ui.statuses[-1] is not None, "statuses again")
    link.send("status", on_reply=ui.replies.append, on_error=ui.errors.append)
    ui.until(lambda: ui.replies, "a status")
    assert bath.controller.status()["phase"] == "idle", "a tap made while away acted later"


def test_stop_ends_both_threads_even_while_the_controller_is_away(bath):
    ui = UiThread()
    before = set(threading.enumerate())
    line = Link(bath.socket_path, on_status=ui.statuses.append, post=ui.post, retry_s=0.05)
    line.start()
    ui.until(lambda: ui.statuses, "the first status")
    assert len(set(threading.enumerate()) - before) == 2
    bath.server.stop()
    ui.until(lambda: ui.statuses[-1] is None, "the controller away")
    line.stop()
    assert not set(threading.enumerate()) - before
