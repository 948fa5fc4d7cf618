"""Draw the bath's wiring as an SVG, and its pinout as a Markdown table, from a footbath config.

    python tools/wiring_diagram.py                    # writes docs/wiring.svg
    python tools/wiring_diagram.py --table            # prints the pinout table of docs/wiring.md
    python tools/wiring_diagram.py --config my.yaml -o my-wiring.svg

Without --config it draws systemd/config.yaml (the config the installer ships) with every
optional device fitted at the pins given there, so the drawing, the table and the shipped
config cannot disagree; a test checks that the committed files are what this writes.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from kiosk.config import Config, parse_config

REPO = Path(__file__).resolve().parents[1]
SHIPPED_CONFIG = REPO / "systemd" / "config.yaml"
DEFAULT_OUT = REPO / "docs" / "wiring.svg"

# The 40-pin header, physical pin -> what it is (BCM numbering for the GPIOs).
HEADER = {
    1: "3V3", 2: "5V", 3: "GPIO2", 4: "5V", 5: "GPIO3", 6: "GND", 7: "GPIO4", 8: "GPIO14",
    9: "GND", 10: "GPIO15", 11: "GPIO17", 12: "GPIO18", 13: "GPIO27", 14: "GND", 15: "GPIO22",
    16: "GPIO23", 17: "3V3", 18: "GPIO24", 19: "GPIO10", 20: "GND", 21: "GPIO9", 22: "GPIO25",
    23: "GPIO11", 24: "GPIO8", 25: "GND", 26: "GPIO7", 27: "ID_SD", 28: "ID_SC", 29: "GPIO5",
    30: "GND", 31: "GPIO6", 32: "GPIO12", 33: "GPIO13", 34: "GND", 35: "GPIO19", 36: "GPIO16",
    37: "GPIO26", 38: "GPIO20", 39: "GND", 40: "GPIO21",
}
W1_PIN = 4  # dtoverlay=w1-gpio's default gpiopin


def physical(gpio: int) -> int:
    return next(p for p, name in HEADER.items() if name == f"GPIO{gpio}")


@dataclass(frozen=True)
class Wire:
    device: str  # the box it belongs to
    terminal: str  # its label on the device
    pin: int  # physical header pin
    colour: str
    note: str = ""


@dataclass(frozen=True)
class Device:
    key: str  # the config key (or "probe")
    title: str
    lines: tuple[str, ...]  # what to know, one line each
    terminals: tuple[tuple[str, str, str], ...]  # (terminal, what it goes to, colour)


COLOURS = {"3V3": "#e07b00", "5V": "#c62828", "GND": "#212121"}
SIGNAL = {"probe": "#f9a825", "heater": "#1565c0", "pump": "#00838f", "vibration": "#6a1b9a",
          "buzzer": "#2e7d32", "stop_button": "#ad1457", "float_switch": "#4e342e",
          "safety_relay": "#827717"}
RELAYS = ("heater", "pump", "safety_relay")  # the inputs of the relay board, IN1 onwards


def shipped_with_every_device() -> Config:
    """The shipped config with its commented-out optional devices fitted."""
    text = re.sub(r"(?m)^  # (\w+: \{)", r"  \1", SHIPPED_CONFIG.read_text())
    return parse_config(text, str(SHIPPED_CONFIG))


def devices(config: Config, w1_pin: int = W1_PIN) -> list[Device]:
    hw = config.hardware

    def level(device) -> str:
        return "high" if device.active_high else "low"

    found = [Device("probe", "DS18B20 probe (in the water)", (
        "4.7 kOhm pull-up between DATA and 3.3 V",
        "3.3 V only: the GPIOs do not take 5 V",
        "a check probe, if fitted: the same 3 pins, one pull-up",
    ), (("VDD (red)", "3V3", COLOURS["3V3"]), ("DATA (yellow)", f"GPIO{w1_pin}", SIGNAL["probe"]),
        ("GND (black)", "GND", COLOURS["GND"])))]
    relays = [(name, getattr(hw, name)) for name in RELAYS if getattr(hw, name) is not None]
    if relays:
        terminals = [(f"IN{n} ({name.replace('_', ' ')})", f"GPIO{d.pin}", SIGNAL[name])
                     for n, (name, d) in enumerate(relays, 1)]
        loads = "heater, safety relay and pump" if hw.safety_relay is not None else "heater and pump"
        notes = (f"input {level(relays[0][1])} = relay on; a floating input = off",
                 "VCC from 3.3 V, JD-VCC from 5 V (jumper removed)",
                 f"{loads} on COM-NO, never NC")
        if hw.safety_relay is not None:
            notes += ("safety relay: in series with the heater relay (below)",)
        found.append(Device("heater", "Relay board (opto-isolated)", notes, (
            *terminals, ("VCC", "3V3", COLOURS["3V3"]), ("JD-VCC", "5V", COLOURS["5V"]),
            ("GND", "GND", COLOURS["GND"]))))
    if hw.vibration is not None:
        found.append(Device("vibration", "Vibration motor driver (MOSFET module)", (
            f"PWM, {level(hw.vibration)} = on; motor on its own supply",
        ), (("SIG", f"GPIO{hw.vibration.pin}", SIGNAL["vibration"]), ("GND", "GND", COLOURS["GND"]))))
    if hw.buzzer is not None:
        found.append(Device("buzzer", "Buzzer module (active, with transistor)", (
            f"{level(hw.buzzer)} = sound",
        ), (("I/O", f"GPIO{hw.buzzer.pin}", SIGNAL["buzzer"]), ("VCC", "3V3", COLOURS["3V3"]),
            ("GND", "GND", COLOURS["GND"]))))
    for name, title, what in (("stop_button", "STOP push button", "normally open, closed while pressed"),
                              ("float_switch", "Float switch", "closes when the float rises (water)")):
        device = getattr(hw, name)
        if device is not None:
            other, pull = ("3V3", "down") if device.active_high else ("GND", "up")
            found.append(Device(name, title, (what, f"to {other}; the Pi's pull-{pull} holds the input "
                                                    "while it is open"),
                                (("contact", f"GPIO{device.pin}", SIGNAL[name]),
                                 ("contact", other, COLOURS[other]))))
    return found


def wires(found: list[Device]) -> list[Wire]:
    """Each terminal on a header pin: signals on their GPIO, supplies and grounds on the
    nearest supply or ground pin to the device's first signal, shared as little as possible."""
    used: dict[int, int] = {}
    result = []
    for device in found:
        signal_pin = next(physical(int(to[4:])) for _, to, _ in device.terminals if to.startswith("GPIO"))
        for terminal, to, colour in device.terminals:
            if to.startswith("GPIO"):
                pin = physical(int(to[4:]))
            else:
                candidates = [p for p, name in HEADER.items() if name == to]
                row = (signal_pin - 1) // 2
                pin = min(candidates, key=lambda p: (used.get(p, 0), abs((p - 1) // 2 - row), p))
            used[pin] = used.get(pin, 0) + 1
            result.append(Wire(device.title, terminal, pin, colour))
    return result


def pinout_table(config: Config, w1_pin: int = W1_PIN) -> str:
    """The Markdown pinout table of docs/wiring.md."""
    found = devices(config, w1_pin)
    rows = ["| device | terminal | header pin | Pi signal | config |", "|---|---|---|---|---|"]
    keys = {d.title: d.key for d in found}
    for wire in wires(found):
        key = keys[wire.device]
        signal = HEADER[wire.pin]
        if signal.startswith("GPIO") and key == "probe":
            where = "`dtoverlay=w1-gpio` (config.txt)"
        elif signal.startswith("GPIO"):
            name = re.search(r"\(([\w ]+)\)", wire.terminal)
            name = name[1].replace(" ", "_") if name else key
            device = getattr(config.hardware, name)
            high = str(device.active_high).lower()
            where = f"`hardware.{name}: {{pin: {device.pin}, active_high: {high}}}`"
        else:
            where = ""
        rows.append(f"| {wire.device} | {wire.terminal} | {wire.pin} | {signal} | {where} |")
    return "\n".join(rows) + "\n"


# -- drawing -------------------------------------------------------------------------------

ROW_Y, ROW_H = 96, 22
COL_X = (330, 360)  # odd pins, even pins
BOX_X, BOX_W = 620, 420
WIDTH = 1080


def _text(x, y, text, *, size=12, anchor="start", weight="normal", colour="#212121") -> str:
    return (f'<text x="{x:g}" y="{y:g}" font-size="{size}" text-anchor="{anchor}" font-weight="{weight}" '
            f'fill="{colour}">{escape(text)}</text>')


def svg(config: Config, w1_pin: int = W1_PIN) -> str:
    found = devices(config, w1_pin)
    all_wires = wires(found)
    body = _header(all_wires)
    boxes, bottom = _boxes(found, all_wires)
    body += boxes
    mains_y = max(ROW_Y + 20 * ROW_H, bottom) + 50
    mains, mains_h = _mains(config, mains_y)
    body += mains
    height = mains_y + mains_h
    head = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" font-family="DejaVu Sans, Arial, sans-serif">',
            f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
            _text(20, 30, "footbath wiring (low voltage: the Raspberry Pi header)", size=18, weight="bold"),
            _text(20, 52, "The header from above, the Pi turned so that the header is on its right edge "
                          "with pin 1 (square pad) at the top; a coloured pin is used.", size=12,
                  colour="#555555")]
    return "\n".join([*head, *body, "</svg>"]) + "\n"


def _header(all_wires: list[Wire]) -> list[str]:
    by_pin: dict[int, list[Wire]] = {}
    for wire in all_wires:
        by_pin.setdefault(wire.pin, []).append(wire)
    out = [f'<rect x="{COL_X[0] - 14}" y="{ROW_Y - 14}" width="{COL_X[1] - COL_X[0] + 28}" '
           f'height="{20 * ROW_H + 6}" rx="4" fill="#f5f5f5" stroke="#9e9e9e"/>']
    for pin, name in HEADER.items():
        row, column = (pin - 1) // 2, (pin - 1) % 2
        x, y = COL_X[column], ROW_Y + row * ROW_H
        used = by_pin.get(pin, [])
        fill = used[0].colour if used else "#ffffff"
        out.append(f'<circle cx="{x}" cy="{y}" r="7" fill="{fill}" stroke="#616161"/>')
        number = "#ffffff" if used else "#616161"
        out.append(_text(x, y + 3, str(pin), size=8, anchor="middle", colour=number))
        label = name
        if used:
            label += "  " + ", ".join(f"{w.device.split(' (')[0]} {w.terminal.split(' (')[0]}" for w in used)
        x_text, anchor = (x - 14, "end") if column == 0 else (x + 14, "start")
        out.append(_text(x_text, y + 4, label, size=11, anchor=anchor, weight="bold" if used else "normal",
                         colour="#212121" if used else "#9e9e9e"))
    return out


def _boxes(found: list[Device], all_wires: list[Wire]) -> tuple[list[str], int]:
    out, y = [], ROW_Y - 14
    for device in found:
        mine = [w for w in all_wires if w.device == device.title]
        height = 30 + 16 * (len(mine) + len(device.lines))
        out.append(f'<rect x="{BOX_X}" y="{y}" width="{BOX_W}" height="{height}" rx="6" fill="#fafafa" '
                   f'stroke="#616161"/>')
        out.append(_text(BOX_X + 10, y + 18, device.title, size=13, weight="bold"))
        line_y = y + 36
        for wire in mine:
            out.append(f'<rect x="{BOX_X + 10}" y="{line_y - 9}" width="10" height="10" '
                       f'fill="{wire.colour}"/>')
            out.append(_text(BOX_X + 28, line_y, f"{wire.terminal}  ->  pin {wire.pin} ({HEADER[wire.pin]})"))
            line_y += 16
        for text in device.lines:
            out.append(_text(BOX_X + 28, line_y, text, size=11, colour="#555555"))
            line_y += 16
        y += height + 10
    return out, y


def _mains(config: Config, y: int) -> tuple[list[str], int]:
    """The heater's mains path (everything software cannot do is here), and its height."""
    out = [_text(20, y, "Mains (230 V or 120 V): a qualified electrician wires this part", size=18,
                 weight="bold", colour="#b71c1c")]
    safety = config.hardware.safety_relay is not None
    chain = [("Wall socket", "earthed", ""), ("RCD / GFCI", "30 mA trip,", "tested monthly"),
             ("Mains switch", "the real", "emergency stop"),
             ("Thermal cut-out", "manual reset, about", "45 C, on the basin"),
             *([("Safety relay", "COM -> NO, open", "at faults and idle")] if safety else []),
             ("Heater relay", "COM -> NO", "(never NC)"),
             (f"Heater {config.bath.heater_w:g} W", "earthed", "")]
    gap, x = 24, 20
    box_w = min(150, (WIDTH - 2 * x - gap * (len(chain) - 1)) // len(chain))
    for n, (title, note, note2) in enumerate(chain):
        out.append(f'<rect x="{x}" y="{y + 20}" width="{box_w}" height="64" rx="6" fill="#fff3f3" '
                   f'stroke="#b71c1c"/>')
        out.append(_text(x + box_w / 2, y + 42, title, size=13, anchor="middle", weight="bold"))
        out.append(_text(x + box_w / 2, y + 60, note, size=11, anchor="middle", colour="#555555"))
        out.append(_text(x + box_w / 2, y + 75, note2, size=11, anchor="middle", colour="#555555"))
        if n < len(chain) - 1:
            out.append(f'<line x1="{x + box_w}" y1="{y + 52}" x2="{x + box_w + gap}" y2="{y + 52}" '
                       f'stroke="#b71c1c" stroke-width="3"/>')
        x += box_w + gap
    notes = ("The live conductor runs through every box in turn. The cut-out opens it whatever the relay "
             "or the software do, and stays open until a person resets it.",
             *(("The safety relay opens it at any fault, at stop and at idle, even with the heater relay "
                "welded shut; the software switches it, so it does not replace the cut-out.",)
               if safety else ()),
             "Earth the heater and any metal of the basin. The pump's relay is wired the same way, after "
             "the RCD and the mains switch.",
             "The STOP button on the Pi is a convenience: the mains switch and the cut-out are the "
             "emergency stop.")
    for n, text in enumerate(notes):
        out.append(_text(20, y + 112 + 18 * n, text, size=12))
    return out, 112 + 18 * len(notes) + 4


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/wiring_diagram.py",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, help="a footbath config (default: the shipped one, every "
                                                    "device fitted)")
    parser.add_argument("--w1-pin", type=int, default=W1_PIN, help="the 1-Wire data pin (gpiopin=)")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUT, help="the SVG to write")
    parser.add_argument("--table", action="store_true", help="print the Markdown pinout table instead")
    args = parser.parse_args(argv)
    config = shipped_with_every_device() if args.config is None else parse_config(
        args.config.read_bytes(), str(args.config))
    if args.table:
        sys.stdout.write(pinout_table(config, args.w1_pin))
        return 0
    args.output.write_text(svg(config, args.w1_pin))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
