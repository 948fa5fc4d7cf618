"""The kiosk's one look: colours, type and sizes, in one place.

Calm and warm, readable at arm's length on the 800x480 panel, and sized for wet fingers:
nothing a customer taps is smaller than 15 mm (about 90 px on the official 7-inch screen).
Light text on deep water: every pairing of text and ground used here has a contrast of at
least 4.5:1 (WCAG AA; the main text on the background is over 10:1), Stop included.
"""

from __future__ import annotations


def rgb(hex_colour: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
    h = hex_colour.lstrip("#")
    return (int(h[0:2], 16) / 255, int(h[2:4], 16) / 255, int(h[4:6], 16) / 255, alpha)


# Deep lagoon water, warm sand, and one clear colour for stopping.
BACKGROUND = rgb("#0F3A40")
SURFACE = rgb("#174D55")  # cards, panels and ordinary buttons
SURFACE_PRESSED = rgb("#1F6470")
TEXT = rgb("#F6EFE4")
TEXT_SOFT = rgb("#B9D3D2")
ACCENT = rgb("#7CD1C8")  # water, progress, the countdown ring
WARM = rgb("#F2B880")  # warmth: the temperature, the heater
STOP = rgb("#B5402E")  # brick red: unmistakable, and its label still reads at 4.9:1
STOP_PRESSED = rgb("#8F3022")
TRACK = rgb("#24606A")  # the unfilled part of a ring or a bar
ALERT = rgb("#F7D36B")  # a fault screen's heading, a paused countdown's reason
OK = rgb("#9FE0A8")  # a good state: the heater off on the fault screen
PRIMARY = ACCENT  # the one button that moves the session on: Start, Continue, Finish
PRIMARY_PRESSED = rgb("#5FB5AC")
PRIMARY_TEXT = BACKGROUND

# The illustrations: a foot drawn in the water's colour with a light outline, the pressure in
# warm orange, press points in sunny yellow: all clear on the dark screen.
ART_SKIN = rgb("#2B6E76")
ART_LINE = TEXT
# #B9D3D2 at 80 % over the skin, made opaque: Kivy draws a see-through wide line through a
# stencil, which the buffer pictures are painted in has none of.
ART_DETAIL = rgb("#9DBFC0")
ART_PATH = rgb("#FFB36B")
ART_PRESS = rgb("#FFE08A")
ART_TOWEL = rgb("#D9CBB5")
ART_TOWEL_STRIPE = rgb("#5FA7A0")
ART_BASIN = rgb("#174D55")
ART_WATER = rgb("#7CD1C8", 0.55)
ART_DROP = rgb("#7CD1C8")

FONT = "Roboto"  # shipped with Kivy: nothing to download
FONT_SYMBOLS = "DejaVuSans"  # shipped with Kivy too; it has the erase-key arrow Roboto lacks

# Type sizes in px for the 800x480 panel. Fitted text shrinks from its size toward MIN_READ,
# never below, and never clips.
HUGE = 96  # the countdown, the water temperature
LARGE = 40  # screen titles
MEDIUM = 28  # instructions, button labels
SMALL = 22  # secondary lines: next step, status bar
MIN_READ = 18  # the smallest type a customer is asked to read
STAFF_MIN = 16  # the staff screen's dense lists
# The sizes fitted text steps through on its way down: a calm, regular scale, and few sizes in
# all, because each size of each font stays open in memory once it has been used.
TYPE_SCALE = (96, 80, 64, 52, 44, 40, 36, 32, 30, 28, 26, 24, 22, 20, 18, 16, 14, 12)

# Touch and layout.
TOUCH_MIN = 90  # px: 15 mm on the official 7-inch panel (800 px over 154 mm)
BUTTON_H = 96
RADIUS = 22
PAD = 20  # around a screen's content
GAP = 16  # between blocks
WIDTH, HEIGHT = 800, 480
PICTURE = 230  # an illustration's width beside the words (fill, ready)
STEP_PICTURE = 210  # on the step screen, which also holds a ring: still clear at arm's length
RING_SOAK = 290  # the soak countdown ring's diameter
RING_STEP = 184  # a step's countdown or rep ring
CARD_PAD = 16

# A fade short enough never to be waited for (and a tap during it ends it: see app.py).
TRANSITION_S = 0.18
