"""The simulated bath: the thermal model behind real code paths.

The controller cannot tell it from the real thing: the heater, pump and float switch are real
gpiozero devices on MockFactory pins, and the thermometer is the real adapter reading a fake
1-Wire bus through w1thermsensor, whose `w1_slave` file the model rewrites after each read.
`footbath run`, the kiosk's tests and the benchmarks all run on it.

Optional parts are there only when asked for, as on a real bath: the check probe
(`check_sensor=True`, a second DS18B20 on the bus) and the safety relay in series with the
heater (a "safety_relay" entry in `pins`; SIM_PINS leaves it out).
"""

from __future__ import annotations

from pathlib import Path

from .errors import HardwareError
from .reading import Reading
from .rig import Pin, Rig, mock_pin_factory
from .thermal import BathParams, ThermalBath
from .thermometer import Thermometer
from .w1file import SIMULATED_CHECK_ID, SIMULATED_SENSOR_ID, SimulatedBus

# Every optional device is fitted on the simulated rig, on the usual pins, except the safety
# relay: like a real bath, the simulated one has it only when its pins name it.
SIM_PINS = {
    "heater": Pin(17, active_high=False),
    "pump": Pin(27, active_high=False),
    "vibration": Pin(18, active_high=True),
    "buzzer": Pin(22, active_high=True),
    "stop_button": Pin(23, active_high=False),
    "float_switch": Pin(24, active_high=False),
}
SIM_SAFETY_RELAY = Pin(25, active_high=False)  # fitted when the config asks for one


class SimulatedBath:
    """One simulated basin with its rig and thermometer; `advance` moves simulated time on."""

    def __init__(self, bus_dir: Path, *, litres: float = 5.0, heater_w: float = 500.0,
                 water_c: float = 30.0, seed: int = 0, pins: dict[str, Pin] | None = None,
                 check_sensor: bool = False, on_stop=None):
        self.now_s = 0.0
        self.bath = ThermalBath(BathParams(litres=litres, heater_w=heater_w), water_c=water_c,
                                seed=seed)
        self.factory = mock_pin_factory()
        self.pins = dict(pins or SIM_PINS)
        self.rig = Rig(self.pins["heater"], pin_factory=self.factory, on_stop=on_stop,
                       **{name: pin for name, pin in self.pins.items() if name != "heater"})
        self.bus = SimulatedBus(Path(bus_dir))
        self.check_sensor = bool(check_sensor)
        self._show_inputs()
        # Opened by id: with a check probe the bus holds two sensors.
        self.thermometer = Thermometer(sensor_id=SIMULATED_SENSOR_ID, devices_dir=Path(bus_dir),
                                       clock=lambda: self.now_s)
        self.check_thermometer = Thermometer(sensor_id=SIMULATED_CHECK_ID, devices_dir=Path(bus_dir),
                                             clock=lambda: self.now_s) if self.check_sensor else None

    def advance(self, dt_s: float) -> None:
        """Let dt_s simulated seconds pass with the outputs as the rig drives them."""
        self.bath.set_pump(self.rig.pump_on)
        safety_closed = self.rig.safety_relay_on if "safety_relay" in self.pins else True
        self.bath.step(dt_s, heater_on=self.rig.heater_on, safety_closed=safety_closed)
        self.now_s += dt_s
        self._show_inputs()

    def read(self) -> Reading:
        """One read through the real adapter and the real library."""
        return self.thermometer.read()

    def read_check(self) -> Reading:
        """One read of the check probe, through the real adapter and the real library."""
        if self.check_thermometer is None:
            raise HardwareError("this simulated bath has no check probe; build it with check_sensor=True")
        return self.check_thermometer.read()

    def next_read_s(self) -> float:
        """How long the next read takes, in simulated seconds."""
        return self.bath.read_duration_s()

    def _show_inputs(self) -> None:
        self.bus.show(self.bath.sensor_output())
        if self.check_sensor:
            self.bus.show(self.bath.check_sensor_output(), SIMULATED_CHECK_ID)
        if "float_switch" in self.pins:
            pin = self.factory.pin(self.pins["float_switch"].number)
            closed = self.bath.water_present  # the float lifts and closes the contact
            high = closed == self.pins["float_switch"].active_high
            pin.drive_high() if high else pin.drive_low()

    def press_stop(self) -> None:
        self._stop_pin().drive_low() if not self.pins["stop_button"].active_high \
            else self._stop_pin().drive_high()

    def release_stop(self) -> None:
        self._stop_pin().drive_high() if not self.pins["stop_button"].active_high \
            else self._stop_pin().drive_low()

    def _stop_pin(self):
        return self.factory.pin(self.pins["stop_button"].number)

    def close(self) -> None:
        self.rig.close()
        self.factory.reset()
