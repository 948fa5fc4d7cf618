"""The DS18B20 in the water, read through the real w1thermsensor library.

`Thermometer.read()` blocks for one conversion (0.75 s, up to 1.8 s) and always returns a
Reading: a trusted temperature or the fault that stands in for it, never the last good value.
`ThermometerReader` does those reads one after another on its own thread, so the control loop
never waits on the bus.

w1thermsensor is imported only inside functions, and never allowed to run modprobe: importing
it does so unless W1THERMSENSOR_NO_KERNEL_MODULE=1 is set, which needs root, sleeps, and is the
dtoverlay's job on a Pi anyway (a missing bus is reported here, with what to check). Its devices
directory is a class attribute (`W1ThermSensor.BASE_DIRECTORY`); each thermometer gets its own
subclass instead of changing that attribute, so two thermometers on two directories in one
process never see each other's bus.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import HardwareError
from .reading import CRC, MISSING, POWER_ON, UNREADABLE, Reading, classify
from .w1file import FAMILY, MASTER, crc8, parse_w1_slave, sensor_name

log = logging.getLogger(__name__)

DEFAULT_DEVICES_DIR = Path("/sys/bus/w1/devices")
CONVERSION_S = 0.75  # a 12-bit DS18B20 conversion: no real probe answers sooner
WIRING_HELP = ("check that config.txt on the boot partition has dtoverlay=w1-gpio and the Pi was rebooted "
               "since, the probe's wiring (data on GPIO 4 unless gpiopin= says otherwise), and the "
               "4.7 kOhm pull-up between data and 3.3 V")


def _library():
    """The w1thermsensor module, imported without its modprobe."""
    os.environ["W1THERMSENSOR_NO_KERNEL_MODULE"] = "1"
    import w1thermsensor

    return w1thermsensor


class UnreadableFileError(HardwareError):
    """A w1_slave file that is empty, cut short or garbled: there is no temperature in it."""


def _sensor_class(devices_dir: Path) -> type:
    """A W1ThermSensor bound to `devices_dir`, reading w1_slave with the checks the library lacks.

    The library folds an empty read (the kernel's answer when a conversion failed) into
    "not ready", and decodes a line cut short after its first bytes into a wrong but plausible
    temperature. Telling these apart needs the text of the one read: reading the file again
    would start another 0.75 s conversion and may see other data.
    """
    lib = _library()
    NoSensorFoundError, SensorNotReadyError = lib.NoSensorFoundError, lib.SensorNotReadyError

    class BusSensor(lib.W1ThermSensor):
        BASE_DIRECTORY = Path(devices_dir)

        def get_raw_sensor_strings(self) -> list[str]:
            # The library's read (one open and read; an OSError means the sensor is gone) and its
            # readiness rule (a YES verdict, not all zeros), on a file checked whole first.
            try:
                with self.sensorpath.open("r") as f:
                    text = f.read()
            except OSError as exc:
                raise NoSensorFoundError(f"Could not find sensor of type {self.name} with id {self.id}") \
                    from exc
            try:
                w1 = parse_w1_slave(text)
            except ValueError as exc:
                raise UnreadableFileError(f"{self.sensorpath}: {exc}") from exc
            if not w1.crc_ok or not any(w1.received):
                raise SensorNotReadyError(self)
            if w1.crc != crc8(w1.received[:8]) or w1.crc != w1.received[8] or w1.kept != w1.received:
                raise UnreadableFileError(f"{self.sensorpath}: the file contradicts itself "
                                          "(its CRC or its two lines do not agree)")
            return text.splitlines(keepends=True)

    return BusSensor


class Thermometer:
    """One DS18B20, found on the bus at construction; every read after that returns a Reading.

    With no `sensor_id` the bus must hold exactly one DS18B20. `sensor=` takes a ready
    w1thermsensor sensor instead (tests): one from `open_sensor` keeps this module's checks of
    the file, a plain library sensor reads as the library alone does. `clock` stamps each
    reading (monotonic seconds).
    """

    def __init__(self, *, sensor_id: str | None = None, devices_dir: Path = DEFAULT_DEVICES_DIR,
                 clock: Callable[[], float] = time.monotonic, sensor: Any = None) -> None:
        self.devices_dir = Path(getattr(sensor, "BASE_DIRECTORY", devices_dir))
        self.clock = clock
        self._sensor = sensor if sensor is not None else open_sensor(self.devices_dir, sensor_id)
        self.sensor_id = f"{FAMILY}-{self._sensor.id}"

    def __repr__(self) -> str:
        return f"<Thermometer {self.sensor_id} in {self.devices_dir}>"

    def read(self) -> Reading:
        """One conversion (blocking). A sensor problem comes back as a bad Reading, never raised."""
        lib = _library()
        try:
            raw_c = float(self._sensor.get_temperature())
        except lib.NoSensorFoundError:
            return Reading(self.clock(), None, MISSING)
        except lib.SensorNotReadyError:
            return Reading(self.clock(), None, CRC)
        except lib.ResetValueError:
            return Reading(self.clock(), None, POWER_ON, 85.0)
        except (UnreadableFileError, lib.W1ThermSensorError, IndexError, ValueError) as exc:
            # IndexError/ValueError: the library's decoding of a file cut short, when `sensor=`
            # is a plain library sensor without the checks above.
            log.debug("thermometer %s: unreadable: %s", self.sensor_id, exc)  # the Reading says it
            return Reading(self.clock(), None, UNREADABLE)
        return classify(raw_c, self.clock())


def open_sensor(devices_dir: Path, sensor_id: str | None = None) -> Any:
    """The library sensor for `sensor_id`, or the bus's only DS18B20; a HardwareError says what to check.

    Opened directly rather than with the library's `W1ThermSensor()`, which sleeps and retries
    for a second when the bus is empty.
    """
    lib = _library()
    Sensor, W1ThermSensorError = lib.Sensor, lib.W1ThermSensorError

    devices_dir, wanted = Path(devices_dir), None
    if sensor_id is not None:
        try:
            wanted = sensor_name(sensor_id)
        except ValueError as exc:
            raise HardwareError(f"hardware.thermometer.sensor_id: {exc}; the ids are the 28-... names "
                                f"in {devices_dir}") from exc
    if not devices_dir.is_dir():
        raise HardwareError(f"no 1-Wire bus at {devices_dir}: {WIRING_HELP}")
    cls = _sensor_class(devices_dir)
    try:
        found = sorted(f"{FAMILY}-{s.id}" for s in cls.get_available_sensors([Sensor.DS18B20]))
    except (W1ThermSensorError, OSError) as exc:  # an entry without w1_slave, or the bus going away
        raise HardwareError(f"the 1-Wire bus in {devices_dir} could not be listed ({exc}): {WIRING_HELP}") \
            from exc
    if wanted is None:
        if not found:
            raise HardwareError(f"no DS18B20 thermometer on the 1-Wire bus ({devices_dir} has no 28-... "
                                f"entry; {devices_dir / MASTER / 'w1_master_slaves'} lists what the "
                                f"bus sees): {WIRING_HELP}")
        if len(found) > 1:
            raise HardwareError(f"{len(found)} DS18B20 thermometers on the 1-Wire bus: {', '.join(found)}; "
                                "set hardware.thermometer.sensor_id to the one in the water")
        wanted = found[0]
    elif wanted not in found:
        on_bus = ", ".join(found) if found else "none"
        raise HardwareError(f"thermometer {wanted} (hardware.thermometer.sensor_id) is not on the 1-Wire "
                            f"bus in {devices_dir} (DS18B20s there: {on_bus}): check the id and the "
                            f"probe's plug; {WIRING_HELP}")
    try:
        return cls(Sensor.DS18B20, wanted.removeprefix(f"{FAMILY}-"))
    except W1ThermSensorError as exc:  # unplugged since it was listed
        raise HardwareError(f"thermometer {wanted} left the 1-Wire bus while being opened: "
                            f"check the probe's plug; {WIRING_HELP}") from exc


class ThermometerReader:
    """Reads the thermometer one read after another on a daemon thread, at the sensor's pace.

    `latest()` is the newest Reading (it carries its time: the caller judges its age);
    `on_reading` is called on the reader's thread after each read, e.g. to wake the control
    loop. `pause_s` rests the bus between reads, and a read starts no sooner than
    `min_period_s` after the one before (a real read already takes about 0.9 s; a fake bus
    answers at once and would otherwise be read in a busy loop). start() and stop() may be
    called twice; stop() waits for the read in progress, and may be called from `on_reading`.
    """

    def __init__(self, thermometer: Thermometer, *,
                 on_reading: Callable[[Reading], None] | None = None, pause_s: float = 0.2,
                 min_period_s: float = 0.0) -> None:
        self.thermometer = thermometer
        self.on_reading = on_reading
        self.pause_s = pause_s
        self.min_period_s = min_period_s
        self._cond = threading.Condition()
        self._latest: Reading | None = None
        self._count = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stopping.is_set()

    @property
    def count(self) -> int:
        """How many readings have been taken since this reader was made."""
        with self._cond:
            return self._count

    def latest(self) -> Reading | None:
        """The newest reading, None before the first one."""
        with self._cond:
            return self._latest

    def wait_for(self, count: int, timeout_s: float) -> bool:
        """Block until `count` readings have been taken in all, or `timeout_s` passed; True if they have."""
        with self._cond:
            return self._cond.wait_for(lambda: self._count >= count, timeout=timeout_s)

    def start(self) -> None:
        if self.running:
            return
        old = self._thread
        if old is not None and old is not threading.current_thread():
            old.join()  # stopped but finishing its last read: never two readers at once
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(self._stopping,),
                                        name=f"thermometer {self.thermometer.sensor_id}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self, stopping: threading.Event) -> None:
        while not stopping.is_set():
            started = time.monotonic()
            try:
                reading = self.thermometer.read()
            except Exception:
                # A bug, not a sensor problem (read() reports those): say so, and hand the
                # supervisor a bad reading now rather than leave it a stale good one.
                log.exception("thermometer %s: read failed", self.thermometer.sensor_id)
                reading = Reading(self.thermometer.clock(), None, UNREADABLE)
            with self._cond:
                self._latest = reading
                self._count += 1
                self._cond.notify_all()
            if self.on_reading is not None:
                try:
                    self.on_reading(reading)
                except Exception:
                    log.exception("thermometer %s: on_reading failed", self.thermometer.sensor_id)
            stopping.wait(max(self.pause_s, self.min_period_s - (time.monotonic() - started)))
