"""The kiosk's one look: colours, type and sizes, in one place.

Calm and warm, readable at arm's length on the 800x480 panel, and sized for wet fingers:
nothing a customer taps is smaller than 15 mm (about 90 px on the official 7-inch screen).
"""

from __future__ import annotations


def rgb(hex_colour: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
    h = hex_colour.lstrip("#")
    return (int(h[0:2], 16) / 255, int(h[2:4], 16) / 255, int(h[4:6], 16) / 255, alpha)


# Deep lagoon water, warm sand, and one clear colour for stopping.
BACKGROUND = rgb("#0F3A40")
SURFACE = rgb("#174D55")
SURFACE_PRESSED = rgb("#1F6470")
TEXT = rgb("#F6EFE4")
TEXT_SOFT = rgb("#B9D3D2")
ACCENT = rgb("#7CD1C8")  # water, progress, the countdown ring
WARM = rgb("#F2B880")  # warmth: the temperature, the heater
STOP = rgb("#E36A55")
STOP_PRESSED = rgb("#C4503D")
TRACK = rgb("#24606A")  # the unfilled part of a ring or a bar
ALERT = rgb("#F7D36B")  # a fault screen's heading
DIM = rgb("#000000", 0.0)

FONT = "Roboto"  # shipped with Kivy: nothing to download
FONT_BOLD = "Roboto-Bold"  # resolved to Kivy's Roboto-Bold.ttf

# Type sizes in px for the 800x480 panel.
HUGE = 96  # the countdown, the water temperature
LARGE = 44  # screen titles
MEDIUM = 30  # instructions, button labels
SMALL = 22  # secondary lines: next step, status bar

# Touch and layout.
TOUCH_MIN = 90  # px: 15 mm on the official 7-inch panel (800 px over 154 mm)
BUTTON_H = 96
RADIUS = 22
PAD = 24
GAP = 16
WIDTH, HEIGHT = 800, 480

TRANSITION_S = 0.18  # short enough never to delay a tap
