"""The harness the service, controller and cleaning tests share: a Service on a simulated
bath (`Bath`), its API served on a thread and its bath stepped by hand (one ~0.9 s read of the
real w1thermsensor code on a fake bus per step, the outputs real gpiozero devices on
MockFactory pins), and `Baths`, which makes them on a test's folders and closes them after
(the `make_bath` fixture, tests/kiosk/conftest.py)."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import tempfile
import textwrap
from pathlib import Path

from hardware.rig import Pin
from hardware.simbath import SIM_PINS
from kiosk.client import Client
from kiosk.config import Config, load_config
from kiosk.journal import FILE_NAME as JOURNAL_FILE
from kiosk.service import Service
from kiosk.staff_pins import PinStore

STAFF, STAFF_PIN = "anna", "2580"

NO_CLEANING = """
cleaning:
  required: false
"""


def write_config(folder: Path, socket_dir: Path, extra: str = "") -> Config:
    """A config file with every path inside the test's folders, plus `extra` YAML sections."""
    path = folder / "config.yaml"
    path.write_text(f"paths:\n  routines_dir: {folder / 'routines'}\n  state_dir: {folder / 'state'}\n"
                    f"  socket: {socket_dir / 'api.sock'}\n" + textwrap.dedent(extra))
    return load_config(path)


class Bath:
    """One Service on a simulated bath, its API served on a thread, its bath stepped by hand."""

    def __init__(self, config: Config, *, water_c: float = 36.0, seed: int = 0, serve: bool = True):
        self.config = config
        self.service = Service(config, simulate=True, water_c=water_c, seed=seed)
        if serve:
            self.service.server.start()
        self.client = Client(self.service.socket_path, timeout_s=10.0)
        self.closed = False

    @property
    def sim(self):
        return self.service.sim

    @property
    def controller(self):
        return self.service.controller

    @property
    def now_s(self) -> float:
        return self.sim.now_s

    def step(self) -> dict:
        """One reading; the status as the API would give it."""
        self.service.step_simulation()
        return self.controller.status()

    def until(self, done, *, within_s: float, what: str) -> dict:
        """Step until done(status) holds; fail once `within_s` simulated seconds have passed."""
        deadline_s = self.now_s + within_s
        while True:
            status = self.step()
            if done(status):
                return status
            assert self.now_s < deadline_s, f"{what}: not within {within_s:g} s; last status {status}"

    def api(self, op: str, **args):
        """A request through the real client and socket."""
        return self.client.request(op, **args)

    def op(self, op: str, **args):
        """A request handed to the controller directly, where the socket adds nothing."""
        return self.controller.handle(op, args)

    def output(self, name: str) -> float:
        """What the GPIO pin of an output really carries: 1.0 fully on, 0.0 off (PWM in between)."""
        pin: Pin = SIM_PINS[name]
        level = float(self.sim.factory.pin(pin.number).state)
        return level if pin.active_high else 1.0 - level

    def outputs_off(self) -> bool:
        return all(self.output(name) == 0.0 for name in ("heater", "pump", "vibration", "buzzer"))

    def journal(self, sql: str, *params) -> list[tuple]:
        """Read the journal file as an inspector would: a separate, read-only connection, so
        only what was committed is seen."""
        path = self.config.paths.state_dir / JOURNAL_FILE
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return db.execute(sql, params).fetchall()

    def start(self, routine: str, profile: str = "standard", *, via_api: bool = False) -> dict:
        request = self.api if via_api else self.op
        return request("start", routine=routine, profile=profile)

    def to_phase(self, phase: str, *, within_s: float = 1800.0) -> dict:
        """Tap whatever waits for a tap (the fill, the feet, a prompt step) as a customer would,
        until the session is in `phase`."""
        def arrived(status: dict) -> bool:
            if status["phase"] == phase:
                return True
            if status["session"] and status["session"]["waiting_for_tap"]:
                self.op("confirm")
            return False
        status = self.controller.status()
        return status if status["phase"] == phase else self.until(arrived, within_s=within_s,
                                                                  what=f"phase {phase}")

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.client.close()
            self.service.close()


class Baths:
    """`make(extra_yaml, water_c=..., staff=...)` builds a Bath on the test's folders; on exit every
    Bath is closed and the socket folder removed. The tests of the controller and of the
    cleaning use it too."""

    def __init__(self, folder: Path):
        self.folder = folder
        # Unix socket paths are limited to 107 bytes: pytest's tmp_path may be longer.
        self.socket_dir = Path(tempfile.mkdtemp(prefix="fb"))
        self.baths: list[Bath] = []

    def config(self, extra: str = "") -> Config:
        return write_config(self.folder, self.socket_dir, extra)

    def __call__(self, extra: str = "", *, water_c: float = 36.0, seed: int = 0,
                 staff: bool = False, serve: bool = True) -> Bath:
        config = self.config(extra)
        if staff:
            PinStore(config.paths.state_dir).set(STAFF, STAFF_PIN)
        bath = Bath(config, water_c=water_c, seed=seed, serve=serve)
        self.baths.append(bath)
        return bath

    def __enter__(self) -> Baths:
        return self

    def __exit__(self, *exc_info) -> None:
        for bath in reversed(self.baths):
            bath.close()
        shutil.rmtree(self.socket_dir, ignore_errors=True)


def routine_yaml(name: str, soak_s: int, step_title: str, target_c: float = 37.5,
                 bubbles: bool = False) -> str:
    return textwrap.dedent(f"""\
        id: mine
        name: {name}
        description: A short local routine.
        soak:
          target_c: {target_c}
          duration_s: {soak_s}
          bubbles: {str(bubbles).lower()}
        steps:
          - title: {step_title}
            say: Turn each toe gently, one after the other.
            duration_s: 10
        """)


def local_routine(config: Config, text: str, name: str = "mine.yaml") -> Path:
    """A routine file in the routines dir, as staff would put it there."""
    folder = config.paths.routines_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path
