"""The touchscreen app: screens driven by the controller's status, taps sent back as requests.

The app never touches the bath: it watches the controller's status over the local API and
sends the customer's taps as requests. The screen shown is a pure function of that status
and a little local state (`flow.screen_for`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import ScreenManager

from .. import ui_defaults as defaults
from . import memory, theme
from . import words as w
from .backlight import Backlight, Dimmer, ScreenLight, keep_lit
from .cues import Cues
from .fade import CrossFade
from .flow import HOME, NEXT, PIN, SESSION_SCREENS, STAFF, UiState, screen_for, worth_keeping
from .i18n import _, use_language
from .link import Link
from .pace import FramePace
from .screens import SCREENS
from .widgets import Text

log = logging.getLogger(__name__)

STAFF_TAPS, STAFF_TAPS_WITHIN_S = 5, 3.0  # the hidden staff entry: five taps on the top bar
SAMPLES_EVERY_S = 5.0
ROUTINES_EVERY_S = 10.0  # how often an idle kiosk asks for the routines (staff edit them live)
BEFORE_COUNTDOWNS = ("fill", "heating", "ready")
SETTLED_AFTER_S = 1.0  # a screen still this long after its fade: the next one is prepared


class TopBar(BoxLayout):
    """Routine or brand on the left, the water on the right; five quick taps open the PIN pad."""

    def __init__(self, kiosk, **kwargs):
        super().__init__(size_hint_y=None, height=52, padding=[theme.PAD, 6, theme.PAD, 0], **kwargs)
        self.kiosk = kiosk
        self.brand = Text("footbath", size=theme.SMALL, colour=theme.TEXT_SOFT)
        self.water = Text("", size=theme.SMALL, colour=theme.WARM, halign="right")
        self.add_widget(self.brand)
        self.add_widget(self.water)
        self._taps: list[float] = []

    def on_touch_down(self, touch):
        if not self.collide_point(*touch.pos):
            return False
        now = time.monotonic()
        self._taps = [t for t in self._taps if now - t < STAFF_TAPS_WITHIN_S] + [now]
        if len(self._taps) >= STAFF_TAPS:
            self._taps = []
            self.kiosk.open_pin()
        return True

    def show(self, status: dict | None) -> None:
        if status is None:
            self.brand.text, self.water.text = "footbath", ""
            return
        self.brand.text = status.get("routine_name") or "footbath"
        heater = _("heating") if status["heater"] else ""
        self.water.text = f"{heater}   {w.temperature(status['water_c'])}".strip()


class Screens(ScreenManager):
    """Kivy's ScreenManager ignores every touch while a transition runs, so a tap in the first
    fifth of a second on a new screen (Stop, or the second tap of a quick pair) was lost. Here
    a touch ends the fade at once and lands on the screen now showing."""

    def on_touch_down(self, touch):
        if self.transition.is_active:
            self.transition.stop()
        return super().on_touch_down(touch)


class ScreenSet(Mapping):
    """The screens by key, each built the first time it is wanted: a kiosk that never shows its
    staff or fault screens never spends memory or start-up time on them. Screens that cannot
    come back for a while are let go (`keep_only`)."""

    def __init__(self, kiosk, manager: ScreenManager, classes):
        self._kiosk, self._manager = kiosk, manager
        self._classes = {cls.key: cls for cls in classes}
        self._built: dict = {}

    def __getitem__(self, key: str):
        screen = self._built.get(key)
        if screen is None:
            screen = self._built[key] = self._classes[key](self._kiosk)
            self._manager.add_widget(screen)
        return screen

    def __iter__(self):
        return iter(self._classes)

    def __len__(self) -> int:
        return len(self._classes)

    def built(self) -> list[str]:
        return list(self._built)

    def keep_only(self, keys: set[str]) -> None:
        """Let go of every built screen not in `keys`, except the one showing."""
        manager = self._manager
        for key in [k for k in self._built if k not in keys and k != manager.current]:
            screen = self._built.pop(key)
            manager.remove_widget(screen)
            manager.transition.forget(screen)


class KioskApp(App):
    title = "footbath"

    def __init__(self, socket_path: Path, *, language: str = defaults.LANGUAGE,
                 volume: float = defaults.VOLUME, sound=None, blank_after_s: float = defaults.BLANK_AFTER_S,
                 backlight: Backlight | None = None, pace: FramePace | None = None, **kwargs):
        super().__init__(**kwargs)
        self.pace = pace or FramePace()
        self._pace_check = None
        self._settle_event = None
        # The panel's light: dim, then off, after idle; never during a session; the first touch
        # on a dark screen only wakes it.
        self.light = ScreenLight(Dimmer.for_blank_after(blank_after_s), backlight or Backlight())
        self._light_event = None
        self._trim_event = None
        use_language(language)
        self.socket_path = Path(socket_path)
        self.ui = UiState()
        self.status: dict | None = None
        self.routines: list[dict] = []
        self.graph: list = []
        self.volume = volume
        self.cues = Cues()
        self.sound = sound
        self.current = None
        self.link: Link | None = None
        self._stage_totals: dict = {}
        self._next_samples = 0.0
        self._next_routines_s = float("-inf")
        self._last_now_s = float("-inf")
        self._pin = ""

    # -- set-up -------------------------------------------------------------------------------

    def build(self):
        Window.clearcolor = theme.BACKGROUND
        root = BoxLayout(orientation="vertical")
        self.bar = TopBar(self)
        fade = CrossFade(duration=theme.TRANSITION_S)
        self.manager = Screens(transition=fade)
        self.manager.transition.bind(is_active=self._fading)
        self.screens = ScreenSet(self, self.manager, SCREENS)
        self.manager.current = self.screens["offline"].name
        root.add_widget(self.bar)
        root.add_widget(self.manager)
        return root

    def on_start(self):
        self.link = Link(self.socket_path, on_status=self.on_status,
                         post=lambda fn: Clock.schedule_once(lambda dt: fn(), 0))
        self.link.start()
        Window.bind(on_touch_down=self._wake, on_touch_move=self._held, on_touch_up=self._lifted)
        self._light_event = Clock.schedule_interval(
            lambda dt: self.light.tick(time.monotonic(), keep_lit(self.status)), 1.0)
        self._trim_event = Clock.schedule_interval(lambda _dt: self._trim(), memory.TRIM_EVERY_S)
        self.repace()

    def on_stop(self):
        Window.unbind(on_touch_down=self._wake, on_touch_move=self._held, on_touch_up=self._lifted)
        for event in (self._light_event, self._trim_event, self._pace_check, self._settle_event):
            if event is not None:
                event.cancel()
        if self.link is not None:
            self.link.stop()

    # A touch on a dark screen is swallowed whole (down, move and up): it only wakes the screen.
    def _wake(self, window, touch) -> bool:
        now = time.monotonic()
        self.pace.touched(now)
        self.repace(now)
        return self.light.touch_down(touch.uid, now)

    def _held(self, window, touch) -> bool:
        return self.light.touch_move(touch.uid)

    def _lifted(self, window, touch) -> bool:
        return self.light.touch_up(touch.uid)

    # -- how often the loop wakes (pace.py) --------------------------------------------------

    def _fading(self, _transition, active: bool) -> None:
        self.moving("fade", active)
        if self._settle_event is not None:
            self._settle_event.cancel()
        if not active:  # a new screen: once it has been still a moment, tidy up
            self._settle_event = Clock.schedule_once(lambda _dt: self._settled(), SETTLED_AFTER_S)

    def _settled(self) -> None:
        """Let go of the screens that cannot come back for a while, prepare the one that most
        likely comes next (so that its first fade is as smooth as any), then tidy the memory
        (memory.py)."""
        self.screens.keep_only(worth_keeping(self.manager.current))
        upcoming = NEXT.get(self.manager.current)
        if upcoming is not None:
            screen = self.screens[upcoming]
            screen.size = self.manager.size  # laid out by the next frame, drawn after it
            Clock.schedule_once(lambda _dt: self.manager.transition.rehearse(screen), 0.2)
        memory.collect()
        memory.trim()

    def _trim(self) -> None:
        if not self.manager.transition.is_active:  # never in a fade, where each frame counts
            memory.trim()

    def moving(self, what: str, on: bool, *, fps: float | None = None) -> None:
        self.pace.moving(what, on, fps=fps)
        self.repace()

    def repace(self, now_s: float | None = None) -> None:
        """Set Kivy's frame cap from the pace, and look again when it may drop."""
        now_s = time.monotonic() if now_s is None else now_s
        # Kivy's clock reads its cap before every frame; the attribute is its only setter.
        Clock._max_fps = self.pace.fps(now_s)
        if self._pace_check is not None:
            self._pace_check.cancel()
            self._pace_check = None
        later = self.pace.settles_in(now_s)
        if later is not None:
            self._pace_check = Clock.schedule_once(lambda _dt: self.repace(), later)

    # -- the status drives the screen ------------------------------------------------------------

    def on_status(self, status: dict | None) -> None:
        if status is None:
            self._last_now_s = self._next_routines_s = float("-inf")
        elif status["now_s"] < self._last_now_s:
            return  # an older push overtaken by a reply
        else:
            self._last_now_s = status["now_s"]
        self._fetch_routines(status)
        if status is None or status["phase"] in BEFORE_COUNTDOWNS or not status["session"]:
            self._stage_totals.clear()  # a new session's countdowns start from their own lengths
        previous, self.status = self.status, status
        self.ui.seen(status)
        self._play(self.cues.after(previous, status))
        self._fetch_samples(status)
        self.bar.show(status)
        self.show(screen_for(status, self.ui))

    def show(self, key: str) -> None:
        screen = self.screens[key]
        if self.status is not None:
            screen.update(self.status)
        if self.manager.current != key:
            self.manager.current = key

    def refresh(self) -> None:
        self.show(screen_for(self.status, self.ui))

    def _fetch_routines(self, status: dict | None) -> None:
        """On (re)connection, and now and then outside a session: staff add and edit routines
        while the controller runs, and the home screen should offer what it offers."""
        if status is None or (self.routines and status["phase"] in SESSION_SCREENS):
            return
        if self.status is None or not self.routines or status["now_s"] >= self._next_routines_s:
            self._next_routines_s = status["now_s"] + ROUTINES_EVERY_S
            self.send("routines", on_reply=self._got_routines)

    def _got_routines(self, routines: list[dict]) -> None:
        self.routines = routines
        self.refresh()

    def _fetch_samples(self, status: dict | None) -> None:
        if status is None or status["phase"] != "heating":
            return
        if status["now_s"] >= self._next_samples:
            self._next_samples = status["now_s"] + SAMPLES_EVERY_S
            self.send("samples", on_reply=self._got_samples)

    def _got_samples(self, samples: list) -> None:
        self.graph = [tuple(p) for p in samples]
        if self.manager.current == "warm" and self.status is not None:
            self.screens["warm"].update(self.status)

    def _play(self, cues: list[str]) -> None:
        for cue in cues:
            if self.sound is not None:
                self.sound.play(cue, self.volume)

    # -- lengths the status does not carry -----------------------------------------------------

    def _stage_total(self, session: dict) -> float:
        key = (session["routine_id"], session["phase"], session["step_index"], session["foot"])
        total = max(self._stage_totals.get(key, 0.0), session["remaining_s"] or 0.0)
        self._stage_totals[key] = total
        return total

    def soak_length_s(self, session: dict) -> float:
        return self._stage_total(session)

    def step_length_s(self, session: dict) -> float:
        return self._stage_total(session)

    # -- what taps do ---------------------------------------------------------------------------

    def send(self, op: str, on_reply=None, on_error=None, **args) -> None:
        if self.link is not None:
            self.link.send(op, on_reply=on_reply, on_error=on_error or self._refused, **args)

    def _refused(self, exc) -> None:
        log.info("kiosk: %s", exc)

    def choose(self, routine_id: str) -> None:
        self.ui.chosen = routine_id
        self.refresh()

    def start(self, profile: str) -> None:
        routine = self.ui.chosen
        if routine is not None:
            self.send("start", routine=routine, profile=profile)

    def back_home(self) -> None:
        self.ui.chosen = None
        self.refresh()

    def stop_session(self) -> None:
        """The customer's Stop: always on screen during a session, and immediate."""
        self.ui.chosen = None
        self.send("stop")

    def quit(self) -> None:
        self.stop()

    def finish(self) -> None:
        self.ui.dismissed = True
        self.refresh()

    def open_pin(self) -> None:
        if self.status is not None and self.status["phase"] in SESSION_SCREENS:
            return  # a customer's session is on screen, and its Stop must stay there
        self.ui.pin_entry = True
        self.refresh()

    def check_pin(self, pin: str) -> None:
        def ok(result):
            if not self.ui.pin_entry:
                return  # the pad was closed while the PIN was checked: nobody signs in
            self.ui.pin_entry = False
            self.ui.staff = result["who"]
            self._pin = pin
            self.refresh()

        def refused(exc):
            log.info("kiosk: %s", exc)
            if self.manager.current == PIN:
                # A wrong PIN, or the controller's own reason (too many tries, not answering),
                # which is for staff and says what to do.
                wrong = getattr(exc, "code", None) == "unauthorized"
                self.screens[PIN].refused(_("Wrong PIN. Try again.") if wrong else str(exc))

        self.send("check_pin", on_reply=ok, on_error=refused, pin=pin or "0")

    def close_staff(self) -> None:
        self.ui.pin_entry = False
        self.ui.staff = None
        self._pin = ""
        self.show(HOME if self.status is not None else "offline")
        self.refresh()

    def acknowledge(self) -> None:
        self.send("ack_fault", pin=self._pin)

    def clean(self, action: str) -> None:
        self.send("clean", pin=self._pin, action=action)

    def clean_step(self) -> None:
        self.clean("next" if self.status and self.status.get("cleaning") else "start")

    def change_volume(self, delta: float) -> None:
        self.volume = min(1.0, max(0.0, round(self.volume + delta, 2)))
        self._refresh_staff()

    def change_brightness(self, delta: float) -> None:
        self.light.set_brightness(self.light.brightness + delta)
        self._refresh_staff()

    def _refresh_staff(self) -> None:
        if self.manager.current == STAFF and self.status is not None:
            self.screens[STAFF].update(self.status)
