"""What the Linux w1-therm driver shows for a DS18B20, byte for byte, and a fake bus to show it on.

The kernel reads the sensor's 9-byte scratchpad and prints it twice in the sensor's `w1_slave`
file: first with the CRC it computed over bytes 0-7 and its verdict (`YES` when that equals
byte 8), then with the last scratchpad that passed the check and `t=` in millidegrees. The
w1thermsensor library trusts the verdict and decodes bytes 0-1, never `t=`; so a fake file
must carry a true scratchpad and CRC, which is what this module writes. With these files in a
temporary directory the real library and the real adapter run unchanged (one code path), and a
simulated bath is read exactly as the probe in the basin would be.

A bus directory laid out as `/sys/bus/w1/devices` is:

    DIR/w1_bus_master1/w1_master_slaves          one sensor name a line, or "not found."
    DIR/w1_bus_master1/w1_master_slave_count
    DIR/w1_bus_master1/28-<12 hex>/{name,w1_slave}
    DIR/28-<12 hex> -> w1_bus_master1/28-<12 hex>

w1thermsensor itself only lists DIR for `28-*` entries and reads `w1_slave`; the master's
files are what staff look at when checking the bus by hand.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .reading import SensorOutput

FAMILY = "28"  # the DS18B20's 1-Wire family code
MASTER = "w1_bus_master1"
SIMULATED_SENSOR_ID = "28-000000f00ba7"
SIMULATED_CHECK_ID = "28-000000f00ba8"  # the simulated check probe, beside it on the bus

COUNTS_PER_C = 16  # 12-bit resolution: 1/16 C a count
MIN_COUNT, MAX_COUNT = -2048, 2047  # the sign-extended 12-bit register: -128 C to 127.9375 C
POWER_ON_COUNT = 0x0550  # 85.000 C, the register's value before any conversion
TH, TL, CONFIG_12_BIT = 0x4B, 0x46, 0x7F  # factory alarm bytes (75 C, 70 C) and 12-bit mode
# Bytes 5-7 are "reserved" in the datasheet; real sensors show FF, then 10h minus the low nibble
# of byte 0 after a conversion (0Ch in the power-up state), then 10h.
POWER_UP_BYTE_6 = 0x0C

_HEX9 = r"((?:[0-9a-f]{2} ){9})"
_LINE_1 = re.compile(_HEX9 + r": crc=([0-9a-f]{2}) (YES|NO)\n")
_LINE_2 = re.compile(_HEX9 + r"t=(-?[0-9]+)\n")
_SENSOR_ID = re.compile(r"(?:28-)?([0-9a-f]{12})")


def crc8(data: bytes) -> int:
    """The Dallas/Maxim 1-Wire CRC-8 (x^8 + x^5 + x^4 + 1, bits in LSB first, start 0)."""
    crc = 0
    for byte in data:
        for _ in range(8):
            mix = (crc ^ byte) & 1
            crc >>= 1
            if mix:
                crc ^= 0x8C
            byte >>= 1
    return crc


def count_of(temp_c: float) -> int:
    """The register count the sensor would hold for this temperature (nearest 1/16 C)."""
    count = round(temp_c * COUNTS_PER_C)
    if not MIN_COUNT <= count <= MAX_COUNT:
        raise ValueError(f"{temp_c} C does not fit a DS18B20's register "
                         f"({MIN_COUNT / COUNTS_PER_C} to {MAX_COUNT / COUNTS_PER_C} C)")
    return count


def scratchpad(temp_c: float) -> bytes:
    """The 9 bytes a DS18B20 holds after converting `temp_c`, CRC included.

    85.000 C is written as the power-up state: in a foot bath the sensor only ever holds it
    because it lost power, which is what the value means to w1thermsensor (ResetValueError).
    """
    count = count_of(temp_c)
    lsb, msb = (count & 0xFFFF).to_bytes(2, "little")
    byte_6 = POWER_UP_BYTE_6 if count == POWER_ON_COUNT else 0x10 - (lsb & 0x0F)
    data = bytes([lsb, msb, TH, TL, CONFIG_12_BIT, 0xFF, byte_6, 0x10])
    return data + bytes([crc8(data)])


def corrupted(pad: bytes) -> bytes:
    """The scratchpad as received over a noisy wire: one bit of the CRC byte flipped."""
    return pad[:8] + bytes([pad[8] ^ 0x01])


def millidegrees(pad: bytes) -> int:
    """The kernel's `t=` for a 12-bit DS18B20: the signed count * 1000 / 16, truncated as C does."""
    count = int.from_bytes(pad[:2], "little", signed=True)
    return int(count * 1000 / COUNTS_PER_C)


def _hex(pad: bytes) -> str:
    return "".join(f"{b:02x} " for b in pad)


def w1_slave_text(received: bytes, *, kept: bytes | None = None) -> str:
    """The kernel's w1_slave text for one read of the scratchpad, `received` as it came in.

    The second line shows the last scratchpad that passed the CRC check (`kept`, zeros when
    none ever did): after a good read that is `received` itself.
    """
    if len(received) != 9:
        raise ValueError(f"a scratchpad is 9 bytes, not {len(received)}")
    crc = crc8(received[:8])
    good = crc == received[8]
    second = received if good else (kept if kept is not None else bytes(9))
    return (f"{_hex(received)}: crc={crc:02x} {'YES' if good else 'NO'}\n"
            f"{_hex(second)}t={millidegrees(received)}\n")


def w1_slave(temp_c: float, *, crc_ok: bool = True) -> str:
    """The w1_slave text of a sensor at `temp_c`; with crc_ok=False, one read garbled on the wire."""
    pad = scratchpad(temp_c)
    return w1_slave_text(pad if crc_ok else corrupted(pad))


@dataclass(frozen=True)
class W1Slave:
    """A parsed w1_slave file."""

    received: bytes  # the scratchpad as read, CRC byte included
    crc: int  # what the kernel computed over received[:8]
    crc_ok: bool  # the kernel's verdict
    kept: bytes  # the last scratchpad that passed the check
    t_millidegrees: int


def parse_w1_slave(text: str) -> W1Slave:
    """Parse the kernel's two lines exactly; anything else (empty, cut short, garbled) is a ValueError."""
    lines = text.splitlines(keepends=True)
    if len(lines) != 2:
        raise ValueError(f"w1_slave has {len(lines)} complete or partial lines, not 2")
    first, second = _LINE_1.fullmatch(lines[0]), _LINE_2.fullmatch(lines[1])
    if first is None or second is None:
        raise ValueError(f"w1_slave line {1 if first is None else 2} is not in the kernel's format")
    return W1Slave(received=bytes.fromhex(first[1]), crc=int(first[2], 16), crc_ok=first[3] == "YES",
                   kept=bytes.fromhex(second[1]), t_millidegrees=int(second[2]))


def sensor_name(sensor_id: str) -> str:
    """`28-` and the 12 hex digits of a DS18B20, from the id with or without the prefix."""
    match = _SENSOR_ID.fullmatch(sensor_id.strip().lower())
    if match is None:
        raise ValueError(f"{sensor_id!r} is not a DS18B20 id: expected 12 hex digits, "
                         f"with or without '28-' in front (e.g. {SIMULATED_SENSOR_ID})")
    return f"{FAMILY}-{match[1]}"


# --- the fake bus directory ---------------------------------------------------------------------

def write_file(path: Path, text: str, *, atomic: bool = True) -> None:
    """Write a bus file; atomic (a rename) so a reader never sees half of it, unless asked not to."""
    if not atomic:
        path.write_text(text)
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sensor_names(devices_dir: Path) -> list[str]:
    """The DS18B20s on a bus directory, sorted, as the kernel lists them in `devices_dir`."""
    return sorted(p.name for p in Path(devices_dir).glob(f"{FAMILY}-*") if p.is_dir())


def _write_master(devices_dir: Path) -> None:
    names = sensor_names(devices_dir)
    master = devices_dir / MASTER
    write_file(master / "w1_master_slaves", "".join(f"{n}\n" for n in names) or "not found.\n")
    write_file(master / "w1_master_slave_count", f"{len(names)}\n")


def make_bus(devices_dir: Path) -> None:
    """The bus itself (the devices directory and its master), as after `dtoverlay=w1-gpio`; sensors stay."""
    devices_dir = Path(devices_dir)
    (devices_dir / MASTER).mkdir(parents=True, exist_ok=True)
    _write_master(devices_dir)


def plug(devices_dir: Path, sensor_id: str, text: str) -> None:
    """Put a sensor on the bus showing `text`; it appears at once (one symlink), as the kernel's does."""
    devices_dir, name = Path(devices_dir), sensor_name(sensor_id)
    home, link = devices_dir / MASTER / name, devices_dir / name
    if link.is_symlink() and home.is_dir():  # already on the bus: only what it says changes
        write_file(home / "w1_slave", text)
        return
    make_bus(devices_dir)
    home.mkdir(exist_ok=True)
    write_file(home / "name", f"{name}\n")
    write_file(home / "w1_slave", text)
    if not link.is_symlink():
        link.symlink_to(Path(MASTER) / name, target_is_directory=True)
    _write_master(devices_dir)


def unplug(devices_dir: Path, sensor_id: str) -> None:
    """Take a sensor off the bus; it vanishes at once (the symlink goes first). Absent is fine."""
    devices_dir, name = Path(devices_dir), sensor_name(sensor_id)
    (devices_dir / name).unlink(missing_ok=True)
    shutil.rmtree(devices_dir / MASTER / name, ignore_errors=True)
    if (devices_dir / MASTER).is_dir():
        _write_master(devices_dir)


def write_bus(devices_dir: Path, sensors: Mapping[str, str]) -> None:
    """Make `devices_dir` a bus with exactly these sensors, each id showing its w1_slave text."""
    devices_dir = Path(devices_dir)
    make_bus(devices_dir)
    wanted = {sensor_name(i): text for i, text in sensors.items()}
    for name in sensor_names(devices_dir):
        if name not in wanted:
            unplug(devices_dir, name)
    for name, text in wanted.items():
        plug(devices_dir, name, text)


class SimulatedBus:
    """A fake bus a simulated bath drives: each SensorOutput becomes what the kernel would show.

    It keeps each sensor's last good scratchpad, as the kernel does, for the second line of a
    failed-CRC read.
    """

    def __init__(self, devices_dir: Path) -> None:
        self.devices_dir = Path(devices_dir)
        self._kept: dict[str, bytes] = {}
        make_bus(self.devices_dir)

    def show(self, output: SensorOutput, sensor_id: str = SIMULATED_SENSOR_ID) -> None:
        """Make the sensor say `output`: absent, a read that failed its CRC, or a temperature
        (to the nearest 1/16 C; one the register cannot hold, beyond -128 to 127.9375 C, is a ValueError)."""
        name = sensor_name(sensor_id)
        if not output.present:
            self.unplug(name)
            return
        pad = scratchpad(output.raw_c)
        if output.crc_ok:
            self._kept[name] = pad
            text = w1_slave_text(pad)
        else:
            text = w1_slave_text(corrupted(pad), kept=self._kept.get(name))
        plug(self.devices_dir, name, text)

    def unplug(self, sensor_id: str = SIMULATED_SENSOR_ID) -> None:
        """The probe's plug pulled: the kernel drops the sensor and forgets what it last said."""
        name = sensor_name(sensor_id)
        self._kept.pop(name, None)
        unplug(self.devices_dir, name)

    def write_w1_slave(self, text: str, sensor_id: str = SIMULATED_SENSOR_ID, *,
                       atomic: bool = True) -> None:
        """Put any text in a sensor's w1_slave (plugging it if needed); atomic=False writes in place."""
        name = sensor_name(sensor_id)
        path = self.devices_dir / name / "w1_slave"
        if atomic or not path.exists():
            plug(self.devices_dir, name, text)
        else:
            write_file(path, text, atomic=False)
