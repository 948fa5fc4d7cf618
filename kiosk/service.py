"""`footbath serve`: the one process that touches the bath.

Builds the real rig and thermometer, or the simulated bath when configured or when no Pi
hardware is present, then runs the control loop at the sensor's pace and the local API
beside it. Outputs reflect the supervisor's decision within one reading.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from pathlib import Path

from hardware.devices import DEVICES
from hardware.errors import HardwareError
from hardware.reading import MISSING, Reading
from routines import Library, load_library

from .config import Config
from .controller import Controller
from .errors import KioskError
from .journal import Journal
from .server import ApiServer
from .staff_pins import PinStore
from .watchdog import Watchdog

log = logging.getLogger(__name__)

LOOP_TIMEOUT_S = 1.0  # the loop runs at least this often, readings or not
RELOAD_EVERY_S = 2.0  # how often the routines dir is looked at
PI_MODEL = Path("/proc/device-tree/model")
SHM = Path("/dev/shm")  # tmpfs on Linux, Raspberry Pi OS included


def on_a_pi() -> bool:
    try:
        return "Raspberry Pi" in PI_MODEL.read_text(errors="replace")
    except OSError:
        return False


def ram_dir() -> str | None:
    """Where the simulated 1-Wire bus lives: its w1_slave file is rewritten at every reading,
    which belongs in RAM rather than on the SD card. Under systemd, the service's runtime
    directory (a tmpfs; its unit keeps it from /dev/shm); else /dev/shm; None: the usual
    temp dir."""
    for folder in (os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0], SHM):
        if folder and Path(folder).is_dir() and os.access(folder, os.W_OK | os.X_OK):
            return str(folder)
    return None


def should_simulate(config: Config) -> bool:
    choice = config.hardware.simulate
    if choice == "auto":
        return not (on_a_pi() and config.hardware.thermometer.devices_dir.is_dir())
    return bool(choice)


class RoutinesWatcher:
    """Reloads the library when a file in the routines dir changes (a cheap stat poll).

    A running session keeps the routine it started with; a bad file is kept out with its
    problems in `status`, and the last good version of that routine stays in use.
    """

    def __init__(self, config: Config):
        self.config = config
        self.signature: tuple = ()
        self.library: Library = self.load(None)

    def _signature(self) -> tuple:
        folder = self.config.paths.routines_dir
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
            return tuple((e.name, e.stat().st_mtime_ns, e.stat().st_size) for e in entries)
        except OSError:
            return ("missing",)

    def load(self, previous: Library | None) -> Library:
        self.signature = self._signature()
        return load_library(self.config.paths.routines_dir, ceiling_c=self.config.bath.ceiling_c,
                            previous=previous)

    def poll(self) -> Library | None:
        """A new library when something changed, else None."""
        if self._signature() == self.signature:
            return None
        self.library = self.load(self.library)
        log.info("routines reloaded: %d on offer, %d problems", len(self.library.entries),
                 len(self.library.problems))
        return self.library


class Service:
    """The controller, its bath and its API. `run()` blocks; `start()` runs it on a thread."""

    def __init__(self, config: Config, *, simulate: bool | None = None, speed: float = 1.0,
                 socket_path: Path | None = None, water_c: float = 30.0, seed: int = 0):
        if not speed > 0:
            raise KioskError("the speed must be above 0")
        self.config = config
        self.simulated = should_simulate(config) if simulate is None else simulate
        self.speed = speed if self.simulated else 1.0
        self.socket_path = Path(socket_path or config.paths.socket)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None
        self.sim = None
        self.reader = None
        self.watchdog = Watchdog()
        self.watcher = RoutinesWatcher(config)
        self._next_reload_s = 0.0  # simulated time of the next look at the routines dir
        self.telemetry = None
        self._last_phase: str | None = None
        # The socket first: a second service on the same socket is refused before it touches
        # the pins or the journal of the one already running.
        self.server = ApiServer(self.socket_path, self._handle, status=self._status)
        rig = journal = None
        try:
            if self.simulated:
                from hardware.simbath import SIM_PINS, SIM_SAFETY_RELAY, SimulatedBath

                self._tmp = tempfile.TemporaryDirectory(prefix="footbath-sim-", dir=ram_dir())
                fitted = {"safety_relay": SIM_SAFETY_RELAY} if config.hardware.safety_relay else {}
                pins = SIM_PINS | fitted
                self.sim = SimulatedBath(Path(self._tmp.name) / "w1", litres=config.bath.litres,
                                         heater_w=config.bath.heater_w, water_c=water_c, seed=seed,
                                         pins=pins, on_stop=self._wake.set,
                                         check_sensor=config.hardware.thermometer.check_sensor_id is not None)
                rig = self.sim.rig
                now_s = self.sim.now_s
            else:
                rig = build_rig(config, on_stop=self._wake.set)
                now_s = time.monotonic()
            # A simulated bath's journal clock is the wall clock at start-up plus simulated time,
            # which runs ahead of the real one at any speed above 1; it starts from the journal's
            # newest record at the earliest, so a restart never writes behind what is there
            # (a cleaning must come after the session it cleaned up).
            self._wall0_s = time.time()
            wall = (lambda: self._wall0_s + self.sim.now_s) if self.sim is not None else time.time
            journal, self.journal_error = open_journal(config, wall)
            if journal is not None and self.sim is not None:
                newest = (journal.last_session_end(), journal.last_cleaning())
                self._wall0_s = max([self._wall0_s, *(t for t in newest if t is not None)])
            self.controller = Controller(config, rig=rig, library=self.watcher.library, journal=journal,
                                         pins=PinStore(config.paths.state_dir), now_s=now_s,
                                         simulated=self.simulated, journal_error=self.journal_error)
            if config.mqtt is not None:
                self.telemetry = start_telemetry(config, self._mqtt_command)
                self.controller.status_extras = lambda: {"mqtt": self.telemetry.stats()}
        except BaseException:
            # Nothing may stay claimed: the socket, the pins, the journal, the simulated bus.
            self.server.stop()
            if rig is not None:
                rig.close()
            if journal is not None:
                journal.close()
            if self.sim is not None:
                self.sim.close()
            if self._tmp is not None:
                self._tmp.cleanup()
            raise
        if not self.simulated:
            self.reader = HardwareThermometer(config, on_reading=lambda r: self._wake.set())

    def _status(self) -> dict:
        return self.controller.status()

    def _mqtt_command(self, command: str) -> None:
        """Only stop and heater_off ever arrive here (kiosk.mqtt refuses the rest)."""
        self.controller.handle(command, {})
        self.server.publish(self._status())

    def _handle(self, request):
        result = self.controller.handle(request.op, request.args)
        self.server.publish(self._status())
        return result

    # -- running ------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="footbath-control", daemon=True)
        self._thread.start()

    def run(self) -> None:
        self.server.start()
        if self.reader is not None:
            self.reader.start()
        self.watchdog.ready()
        try:
            if self.sim is not None:
                self._simulated_loop()
            else:
                self._hardware_loop()
        finally:
            self._shutdown()

    def stop_soon(self) -> None:
        """Ask the loop to stop (safe from a signal handler)."""
        self._stop.set()
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    def _hardware_loop(self) -> None:
        next_reload = 0.0
        while not self._stop.is_set():
            self._wake.wait(LOOP_TIMEOUT_S)
            self._wake.clear()
            now = time.monotonic()
            self._tick(now, self.reader.latest(), self.reader.latest_check())
            if now >= next_reload:
                next_reload = now + RELOAD_EVERY_S
                self._reload()

    def _simulated_loop(self) -> None:
        """Lock-step: real time only paces the simulation, so any --speed gives the same session."""
        started = time.monotonic()
        while not self._stop.is_set():
            self.step_simulation()
            self._stop.wait(max(0.0, started + self.sim.now_s / self.speed - time.monotonic()))

    def step_simulation(self) -> float:
        """One read of the simulated bath: advance the model, read through the real adapter,
        step the controller, and look at the routines dir when it is due (on simulated time,
        so a test that edits a routine sees the same thing at any speed). Tests call it
        directly; returns the simulated time."""
        sim = self.sim
        sim.advance(sim.next_read_s())
        self._tick(sim.now_s, sim.read(), sim.read_check() if sim.check_thermometer else None)
        session = self.controller.session
        soaking = session is not None and session.phase == "soaking"
        if soaking != sim.bath.has_feet:  # the simulated customer's feet follow the routine
            sim.bath.feet_in() if soaking else sim.bath.feet_out()
        if sim.now_s >= self._next_reload_s:
            self._next_reload_s = sim.now_s + RELOAD_EVERY_S
            self._reload()
        return sim.now_s

    def _tick(self, now_s: float, reading: Reading | None, check: Reading | None = None) -> None:
        self.controller.step(now_s, reading, check)
        status = self._status()
        self.server.publish(status)
        self.watchdog.ping()
        if self.telemetry is not None:
            self.telemetry.offer(status)
            self._report_finished(status)

    def _report_finished(self, status: dict) -> None:
        """One MQTT message per finished session, with its peak and mean water temperature."""
        phase, last = status["phase"], self._last_phase
        self._last_phase = phase
        if last not in ("fill", "heating", "ready", "soaking", "steps") or phase == last:
            return
        if phase not in ("done", "stopped", "fault"):
            return
        c = self.controller
        waters = [water for _, water in c.graph if water is not None]
        self.telemetry.session_finished({
            "routine": status["routine"], "profile": status["profile"], "outcome": phase,
            "length_s": round(c.now_s - c.started_s),
            "peak_c": max(waters) if waters else None,
            "mean_c": round(sum(waters) / len(waters), 2) if waters else None,
        })

    def _reload(self) -> None:
        library = self.watcher.poll()
        if library is not None:
            self.controller.set_library(library)

    def close(self) -> None:
        """Release everything (after `run` returned, or when a test drove `step_simulation`)."""
        self._shutdown()

    def _shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.watchdog.stopping()
        try:
            self.controller.shutdown()
        finally:
            if self.telemetry is not None:
                self.telemetry.stop()
            if self.reader is not None:
                self.reader.stop()
            self.server.stop()
            self.controller.rig.close()
            if self.controller.journal is not None:
                self.controller.journal.close()
            if self.sim is not None:
                self.sim.close()
            if self._tmp is not None:
                self._tmp.cleanup()


def start_telemetry(config: Config, on_command):
    """MQTT telemetry, when configured; paho-mqtt is the [mqtt] extra."""
    from importlib import metadata

    from .mqtt import Telemetry

    try:
        version = metadata.version("footbath-kiosk")
    except metadata.PackageNotFoundError:  # pragma: no cover - a bare checkout
        version = "unknown"
    try:
        telemetry = Telemetry(config.mqtt, version=version, on_command=on_command)
    except ImportError:
        raise KioskError("mqtt is configured but paho-mqtt is not installed; install "
                         "footbath-kiosk[mqtt] or remove the mqtt section") from None
    telemetry.start()
    return telemetry


def open_journal(config: Config, wall) -> tuple[Journal | None, str | None]:
    """The journal, or None and why: a card that cannot be written must not stop the bath."""
    try:
        return Journal(config.paths.state_dir, wall=wall), None
    except KioskError as exc:
        log.error("%s", exc)
        return None, str(exc)


def build_rig(config: Config, *, on_stop):
    from hardware.rig import Pin, Rig, mock_pin_factory

    hw = config.hardware
    factory = mock_pin_factory() if hw.pin_factory == "mock" else _named_factory(hw.pin_factory, hw.gpio_chip)
    pins = {name: Pin(d.pin, d.active_high) for name in DEVICES if (d := getattr(hw, name)) is not None}
    try:
        return Rig(pins.pop("heater"), pin_factory=factory, on_stop=on_stop, **pins)
    except HardwareError as exc:
        raise KioskError(f"cannot set up the GPIO pins: {exc}") from None


FACTORIES = {  # config name -> gpiozero pin factory
    "lgpio": ("gpiozero.pins.lgpio", "LGPIOFactory"),
    "rpigpio": ("gpiozero.pins.rpigpio", "RPiGPIOFactory"),
    "pigpio": ("gpiozero.pins.pigpio", "PiGPIOFactory"),
    "native": ("gpiozero.pins.native", "NativeFactory"),
}


def _named_factory(name: str | None, chip: int | None = None):
    """None leaves the choice to gpiozero ($GPIOZERO_PIN_FACTORY, else the best available).
    `chip` (hardware.gpio_chip) is the /dev/gpiochipN that lgpio opens; None: gpiozero's choice."""
    if name is None:
        return None
    if chip is not None and name != "lgpio":
        raise KioskError(f"hardware.gpio_chip is for the lgpio pin factory only, not {name!r}; set "
                         "hardware.pin_factory: lgpio, or remove gpio_chip")
    import importlib

    module, cls = FACTORIES[name]
    try:
        factory_class = getattr(importlib.import_module(module), cls)
    except Exception as exc:
        raise KioskError(f"hardware.pin_factory {name!r} cannot be used here ({exc}); on a Pi 5 "
                         "use lgpio (install footbath-kiosk[pi])") from None
    try:
        return factory_class() if chip is None else factory_class(chip=chip)
    except Exception as exc:
        if chip is not None:
            raise KioskError(f"hardware.gpio_chip {chip}: lgpio cannot open /dev/gpiochip{chip} ({exc}); "
                             "`ls /dev/gpiochip*` lists the chips and `gpiodetect` names them (the "
                             "header's is pinctrl-rp1 on a Pi 5, pinctrl-bcm2711 on a Pi 4); the "
                             "service's user needs the gpio group") from None
        raise KioskError(f"hardware.pin_factory {name!r} cannot be used here ({exc}); on a Pi 5 "
                         "use lgpio (install footbath-kiosk[pi])") from None


class HardwareThermometer:
    """The DS18B20 read on its own thread (and the second probe, when one is configured, on
    another); while a probe cannot be found, MISSING readings come in its place and the bus
    is looked at again every few seconds."""

    RETRY_S = 5.0

    def __init__(self, config: Config, *, on_reading):
        t = config.hardware.thermometer
        self._main = _ProbeReader(t.sensor_id, t.devices_dir, on_reading)
        self._check = (_ProbeReader(t.check_sensor_id, t.devices_dir, on_reading)
                       if t.check_sensor_id is not None else None)

    def start(self) -> None:
        for probe in self._probes():
            probe.start()

    def latest(self) -> Reading | None:
        return self._main.latest()

    def latest_check(self) -> Reading | None:
        return self._check.latest() if self._check is not None else None

    def stop(self) -> None:
        for probe in self._probes():
            probe.stop()

    def _probes(self):
        return [p for p in (self._main, self._check) if p is not None]


class _ProbeReader:
    """One probe: found (or looked for again every RETRY_S), then read one conversion after
    another, never more often than a DS18B20 converts (a fake bus answers at once)."""

    def __init__(self, sensor_id: str | None, devices_dir: Path, on_reading):
        self.sensor_id, self.devices_dir, self.on_reading = sensor_id, devices_dir, on_reading
        self._reader = None
        self._latest: Reading | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"footbath-thermometer-{self.sensor_id}",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from hardware.thermometer import CONVERSION_S, Thermometer, ThermometerReader

        while not self._stop.is_set():
            try:
                thermometer = Thermometer(sensor_id=self.sensor_id, devices_dir=self.devices_dir)
            except HardwareError as exc:
                log.error("thermometer: %s", exc)
                self._latest = Reading(time.monotonic(), None, MISSING)
                self.on_reading(self._latest)
                self._stop.wait(HardwareThermometer.RETRY_S)
                continue
            self._reader = ThermometerReader(thermometer, on_reading=self.on_reading, pause_s=0.0,
                                             min_period_s=CONVERSION_S)
            self._reader.start()
            return

    def latest(self) -> Reading | None:
        return self._reader.latest() if self._reader is not None else self._latest

    def stop(self) -> None:
        self._stop.set()
        if self._reader is not None:
            self._reader.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)
