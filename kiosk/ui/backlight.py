"""The screen's light: lit during a session, dimmed after a while idle, then off.

`Dimmer` is the pure rule (time passed in). `Backlight` writes the panel's sysfs files
(`/sys/class/backlight/<device>/brightness`, `bl_power`) and does nothing where there is no
panel (a desktop, the simulation). `ScreenLight` joins the two for the app: it applies a
level only when it changes, and swallows the whole first touch on a dark screen, which only
wakes it, so a customer who cannot see the buttons never presses one by chance.

Writing the files needs permission: on the Pi, a udev rule gives the kiosk's user the
backlight (see the install script). Without it the kiosk logs once and leaves the light alone.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

ON, DIM, OFF = "on", "dim", "off"
LEVELS = (ON, DIM, OFF)
# bl_power takes the kernel's FB_BLANK_* values: 0 is unblanked, 4 is powered down.
BL_POWER_ON, BL_POWER_OFF = 0, 4


def keep_lit(status: dict | None) -> bool:
    """Whether the screen must stay lit: a session under way, a fault, or a cleaning cycle.

    A fault must stay readable ("call staff") and a session must never go dark mid-step.
    """
    if not status:
        return False
    return (status.get("phase") in ("fill", "heating", "ready", "soaking", "steps")
            or bool(status.get("faults")) or bool(status.get("cleaning")))


class Dimmer:
    """When the screen is on, dim or off. Pure: every call takes the time in seconds."""

    def __init__(self, dim_after_s: float, off_after_s: float):
        if not 0 < dim_after_s <= off_after_s:
            raise ValueError(f"the screen must dim before it turns off (dim after {dim_after_s} s, "
                             f"off after {off_after_s} s); check kiosk.blank_after_s")
        self.dim_after_s = dim_after_s
        self.off_after_s = off_after_s
        self.level = ON  # as last decided: what the customer sees now
        self._active_s: float | None = None  # the last touch, or the last moment of a session

    @classmethod
    def for_blank_after(cls, blank_after_s: float) -> Dimmer:
        """The config's `kiosk.blank_after_s` is the time to dark; the screen dims at half of it."""
        return cls(blank_after_s / 2, blank_after_s)

    def touched(self, now_s: float) -> bool:
        """A finger on the screen. True when the screen was dim or off: that touch only wakes it."""
        dark = self.level != ON
        self._active_s = now_s
        self.level = ON
        return dark

    def tick(self, now_s: float, session_running: bool) -> str:
        """The level for now: "on", "dim" or "off". Never dark while a session runs."""
        if session_running or self._active_s is None:
            self._active_s = now_s  # idle time counts from the end of a session, not its start
        idle_s = now_s - self._active_s
        self.level = OFF if idle_s >= self.off_after_s else DIM if idle_s >= self.dim_after_s else ON
        return self.level


class Backlight:
    """The panel's backlight through sysfs; absent (every call does nothing) when there is none."""

    def __init__(self, root: Path = Path("/sys/class/backlight")):
        self.device = _first_device(Path(root))
        self.max_brightness = 0
        if self.device is not None:
            try:
                self.max_brightness = int((self.device / "max_brightness").read_text().strip())
            except (OSError, ValueError) as exc:
                log.warning("backlight: cannot read %s/max_brightness (%s); leaving the light alone",
                            self.device, exc)
                self.device = None

    @property
    def present(self) -> bool:
        return self.device is not None and self.max_brightness > 0

    def set(self, fraction: float) -> None:
        """Brightness as a fraction of the panel's maximum; 0 switches the light off."""
        if not self.present:
            return
        fraction = min(1.0, max(0.0, fraction))
        if fraction == 0:
            # Power the light down where the driver can, keeping brightness for the wake-up.
            if not self._write("bl_power", BL_POWER_OFF, optional=True):
                self._write("brightness", 0)
            return
        self._write("bl_power", BL_POWER_ON, optional=True)
        self._write("brightness", max(1, round(fraction * self.max_brightness)))

    def brightness(self) -> float | None:
        """The brightness now as a fraction (None without a panel)."""
        if not self.present:
            return None
        try:
            return int((self.device / "brightness").read_text().strip()) / self.max_brightness
        except (OSError, ValueError):
            return None

    def _write(self, name: str, value: int, *, optional: bool = False) -> bool:
        if self.device is None:
            return False
        path = self.device / name
        if optional and not path.exists():
            return False
        try:
            path.write_text(f"{value}\n")
        except OSError as exc:
            log.warning("backlight: cannot write %s (%s); check that the kiosk's user may write the "
                        "backlight (a udev rule). Leaving the light alone.", path, exc)
            self.device = None  # once: not a warning every second
            return False
        return True


def _first_device(root: Path) -> Path | None:
    try:
        candidates = sorted(root.iterdir())
    except OSError:
        return None
    for device in candidates:  # sysfs entries are symlinks to the device's folder
        if (device / "brightness").is_file() and (device / "max_brightness").is_file():
            return device
    return None


class ScreenLight:
    """The dimmer applied to the backlight, for the app's touch handlers and its clock."""

    def __init__(self, dimmer: Dimmer, backlight: Backlight, *, on: float = 1.0, dim: float = 0.2):
        self.dimmer = dimmer
        self.backlight = backlight
        self.fractions = {ON: on, DIM: dim, OFF: 0.0}
        self.applied: str | None = None  # unknown until the first tick: a crashed kiosk left it dark
        self._swallowed: set = set()

    def touch_down(self, touch_id, now_s: float) -> bool:
        """True: swallow this touch (and its moves and release), it only woke the screen."""
        woke = self.dimmer.touched(now_s)
        self._apply(self.dimmer.level)
        # Without a panel to darken the screen never went dark: let the touch through.
        if woke and self.backlight.present:
            self._swallowed.add(touch_id)
            return True
        return False

    def touch_move(self, touch_id) -> bool:
        return touch_id in self._swallowed

    def touch_up(self, touch_id) -> bool:
        if touch_id in self._swallowed:
            self._swallowed.discard(touch_id)
            return True
        return False

    def tick(self, now_s: float, session_running: bool) -> str:
        level = self.dimmer.tick(now_s, session_running)
        self._apply(level)
        return level

    @property
    def brightness(self) -> float:
        return self.fractions[ON]

    def set_brightness(self, fraction: float) -> float:
        """Staff's brightness for the lit screen (the dimmed level never above it); applied now."""
        fraction = min(1.0, max(0.1, round(fraction, 2)))
        self.fractions[ON] = fraction
        self.fractions[DIM] = min(self.fractions[DIM], fraction)
        if self.applied is not None:
            self.backlight.set(self.fractions[self.applied])
        return fraction

    def _apply(self, level: str) -> None:
        if level != self.applied:
            self.applied = level
            self.backlight.set(self.fractions[level])
