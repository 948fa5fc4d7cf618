"""What a DS18B20 says, and whether it can be trusted.

The probe has a handful of ways of lying: the 85.000 C power-on value, 127.94 C, exactly
0.000 C or -0.0625 C from a bus fault, a CRC failure, or silence. A bad reading is reported
as bad (with a code the safety supervisor keys on), never replaced by the last good one.
"""

from __future__ import annotations

from dataclasses import dataclass

VALID_MIN_C, VALID_MAX_C = 0.0, 60.0  # foot-bath water is never outside this

# Codes of bad readings: stable names the supervisor, the journal and the UI share.
MISSING = "sensor_missing"
CRC = "sensor_crc"
POWER_ON = "sensor_power_on"
SENTINEL = "sensor_127"
ZERO = "sensor_zero"
MINUS = "sensor_minus"
RANGE = "sensor_range"
UNREADABLE = "sensor_unreadable"

MESSAGES = {
    MISSING: "the thermometer is not answering: check the probe's plug and wires",
    CRC: "the thermometer's data is corrupted (CRC): check the probe's wires and the 4.7 kOhm pull-up",
    POWER_ON: "the thermometer reported its power-on value (85 C): check the probe's power wire",
    SENTINEL: "the thermometer reported 127.94 C, a bus fault: check the probe's data wire",
    ZERO: "the thermometer reported exactly 0.000 C, a bus fault: check the probe's wires",
    MINUS: "the thermometer reported -0.0625 C, a bus fault: check the probe's wires",
    RANGE: "the thermometer reading is outside 0-60 C: check that the probe is in the water",
    UNREADABLE: "the thermometer could not be read: check the probe and the 1-Wire bus",
}


@dataclass(frozen=True)
class Reading:
    """One read of the probe: a trusted water temperature, or the reason there is none."""

    taken_s: float  # monotonic seconds when the read completed
    water_c: float | None  # None when the reading is bad
    fault: str | None = None  # one of the codes above when bad
    raw_c: float | None = None  # what the sensor said, for the record

    @property
    def ok(self) -> bool:
        return self.water_c is not None

    @property
    def message(self) -> str:
        return MESSAGES.get(self.fault, "") if self.fault else ""

    def age_s(self, now_s: float) -> float:
        return now_s - self.taken_s


@dataclass(frozen=True)
class SensorOutput:
    """What a DS18B20 on the bus would say: absent, a failed CRC, or a raw temperature."""

    present: bool = True
    crc_ok: bool = True
    raw_c: float = 0.0


def classify(raw_c: float, taken_s: float) -> Reading:
    """Judge a decoded temperature; the known lies become bad readings."""
    if raw_c == 85.0:
        return Reading(taken_s, None, POWER_ON, raw_c)
    if abs(raw_c - 127.94) < 0.01:
        return Reading(taken_s, None, SENTINEL, raw_c)
    if raw_c == 0.0:
        return Reading(taken_s, None, ZERO, raw_c)
    if raw_c == -0.0625:
        return Reading(taken_s, None, MINUS, raw_c)
    if not VALID_MIN_C <= raw_c <= VALID_MAX_C:
        return Reading(taken_s, None, RANGE, raw_c)
    return Reading(taken_s, raw_c, None, raw_c)


def reading_from(output: SensorOutput, taken_s: float) -> Reading:
    """The reading the real adapter would produce for this sensor output (for simulations)."""
    if not output.present:
        return Reading(taken_s, None, MISSING)
    if not output.crc_ok:
        return Reading(taken_s, None, CRC)
    return classify(output.raw_c, taken_s)
