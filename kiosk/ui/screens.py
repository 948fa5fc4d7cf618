"""The kiosk's screens. Each one lays itself out once and then only updates its texts and
values from the status (`update`), so a status push redraws what changed and nothing else.

Every screen fits the 800x480 panel below the top bar: a picture or a ring on the left, the
words beside it (fitted to their box, never clipped), and one row of big buttons at the
bottom, with Stop always in the bottom right corner during a session.
"""

from __future__ import annotations

from kivy.animation import Animation
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.screenmanager import Screen
from kivy.uix.widget import Widget

from . import theme
from . import words as w
from .flow import DONE, FAULT, FILL, HEALTH, HOME, OFFLINE, PIN, READY, SOAK, STAFF, STEP, WARM
from .i18n import _
from .illustration import Illustration
from .pace import PACING_FPS
from .widgets import BigButton, Card, FitText, Panel, Ring, Sign, TempGraph, Text, primary_button

STOP_W = 200  # the Stop button's width wherever it shares a row with words


# -- layout helpers ------------------------------------------------------------------------------

def row(*children, height: int = theme.BUTTON_H, spacing: int = theme.GAP) -> BoxLayout:
    box = BoxLayout(orientation="horizontal", size_hint_y=None, height=height, spacing=spacing)
    for child in children:
        box.add_widget(child)
    return box


def column(*children, spacing: int = theme.GAP, padding=theme.PAD, **kwargs) -> BoxLayout:
    box = BoxLayout(orientation="vertical", spacing=spacing, padding=padding, **kwargs)
    for child in children:
        box.add_widget(child)
    return box


def beside(*children, spacing: int = theme.PAD, **kwargs) -> BoxLayout:
    box = BoxLayout(orientation="horizontal", spacing=spacing, **kwargs)
    for child in children:
        box.add_widget(child)
    return box


def fixed(widget: Widget, *, width: float | None = None, height: float | None = None) -> Widget:
    """Give a widget a fixed width and/or height (the rest of the layout flexes around it)."""
    if width is not None:
        widget.size_hint_x, widget.width = None, width
    if height is not None:
        widget.size_hint_y, widget.height = None, height
    return widget


def title(text: str = "", *, colour=theme.TEXT, height: int = 52) -> FitText:
    return FitText(text, size=theme.LARGE, smallest=theme.MEDIUM, bold=True, colour=colour,
                   size_hint_y=None, height=height)


def stop_button(kiosk) -> BigButton:
    return BigButton(_("Stop"), kiosk.stop_session, fill=theme.STOP, fill_pressed=theme.STOP_PRESSED)


def screen_body(*children, **kwargs) -> BoxLayout:
    """The screen's column: content above, the button row at the bottom."""
    kwargs.setdefault("padding", [theme.PAD, 8, theme.PAD, theme.PAD])
    return column(*children, **kwargs)


# -- the screens -----------------------------------------------------------------------------------

class KioskScreen(Screen):
    def __init__(self, kiosk, **kwargs):
        super().__init__(name=self.key, **kwargs)
        self.kiosk = kiosk

    key = ""

    def update(self, status: dict) -> None:
        """Show this status; called on every push while the screen is current."""


class HomeScreen(KioskScreen):
    key = HOME

    def __init__(self, kiosk):
        super().__init__(kiosk)
        self.title = title(_("Choose your foot bath"))
        self.state = FitText("", size=theme.SMALL, smallest=theme.MIN_READ, colour=theme.TEXT_SOFT,
                             halign="right")
        self.cards = GridLayout(cols=2, spacing=theme.GAP)
        header = beside(self.title, fixed(self.state, width=300), size_hint_y=None, height=52)
        self.add_widget(screen_body(header, self.cards, spacing=12))
        self._shown: list | None = None

    def update(self, status: dict) -> None:
        self.state.text = w.home_state(status)
        self.state.color = theme.ALERT if status.get("cleaning_needed") else theme.TEXT_SOFT
        routines = self.kiosk.routines
        # Staff edit routines while the kiosk runs: a new name, length or temperature shows too.
        key = [(r["id"], r["name"], r["description"], r["length_s"], r["target_c"]) for r in routines]
        if key != self._shown:
            self._shown = key
            self.cards.clear_widgets()
            for r in routines[:4]:  # the screen holds four; staff keep the offer short
                self.cards.add_widget(self._card(r))
        for card in self.cards.children:
            card.enabled = not status.get("cleaning_needed")

    def _card(self, r: dict) -> Card:
        facts = f"{w.length_words(r['length_s'])}  ·  {w.temperature(r['target_c'])}"
        card = Card(r["name"], r["description"], facts, lambda rid=r["id"]: self.kiosk.choose(rid))
        card.routine_id = r["id"]
        return card


class HealthScreen(KioskScreen):
    key = HEALTH

    def __init__(self, kiosk):
        super().__init__(kiosk)
        self.add_widget(screen_body(
            title(_("Before we start")),
            FitText(_("Do any of these apply to you: diabetes, reduced feeling in your feet, "
                      "circulation problems, or pregnancy?"), size=theme.MEDIUM + 2),
            FitText(_("If one does, we use the gentle setting: 37 °C, a shorter soak and light "
                      "pressure only."), size=theme.SMALL, colour=theme.TEXT_SOFT, size_hint_y=None,
                    height=64),
            row(fixed(BigButton(_("Back"), kiosk.back_home), width=170),
                BigButton(_("Yes, one applies"), lambda: kiosk.start("gentle")),
                BigButton(_("No, none apply"), lambda: kiosk.start("standard"))),
        ))


class FillScreen(KioskScreen):
    key = FILL

    def __init__(self, kiosk):
        super().__init__(kiosk)
        self.note = FitText("", size=theme.SMALL, colour=theme.WARM, size_hint_y=None, height=60)
        words = column(title(_("Fill the basin")),
                       FitText(_("Fill the basin with warm water up to the line, then tap Continue. "
                                 "We will bring it to the right temperature."), size=theme.MEDIUM,
                               valign="top"),
                       self.note, padding=0, spacing=8)
        self.add_widget(screen_body(
            beside(fixed(Illustration(technique="fill"), width=theme.PICTURE), words),
            row(primary_button(_("Continue"), lambda: kiosk.send("confirm")),
                fixed(stop_button(kiosk), width=STOP_W)),
        ))

    def update(self, status: dict) -> None:
        session = status["session"] or {}
        gentle = session.get("profile") == "gentle"
        self.note.text = _("Gentle setting: 37 °C, a shorter soak, light pressure.") if gentle else ""


class WarmScreen(KioskScreen):
    key = WARM

    def __init__(self, kiosk):
        super().__init__(kiosk)
        self.water = FitText("", size=theme.HUGE, smallest=theme.LARGE, bold=True, colour=theme.WARM,
                             size_hint_y=None, height=110)
        self.target = Text("", size=theme.MEDIUM, colour=theme.TEXT_SOFT, size_hint_y=None, height=40)
        self.eta = FitText("", size=theme.MEDIUM, smallest=theme.SMALL)
        self.graph = TempGraph()
        self.heading = title(_("Warming the water"))
        left = column(self.heading, self.water, self.target, Widget(), padding=0, spacing=8)
        self.add_widget(screen_body(
            beside(fixed(left, width=330), self.graph),
            row(self.eta, fixed(stop_button(kiosk), width=STOP_W)),
        ))

    def update(self, status: dict) -> None:
        self.water.text = w.temperature(status["water_c"])
        self.target.text = _("Target {temp}").format(temp=w.temperature(status["target_c"]))
        self.heading.text = w.warming_title(status)
        self.eta.text = w.warming_words(status)
        self.graph.target_c = status["target_c"] or 38.0
        self.graph.points = self.kiosk.graph


class ReadyScreen(KioskScreen):
    key = READY

    def __init__(self, kiosk):
        super().__init__(kiosk)
        self.words = FitText("", size=theme.LARGE, smallest=theme.MEDIUM, bold=True, valign="top")
        words = column(Text(_("Ready"), size=theme.MEDIUM, bold=True, colour=theme.ACCENT, size_hint_y=None,
                            height=44),
                       self.words, padding=0, spacing=8)
        self.add_widget(screen_body(
            beside(fixed(Illustration(technique="feet_in"), width=theme.PICTURE), words),
            row(primary_button(_("Start"), lambda: kiosk.send("confirm")),
                fixed(stop_button(kiosk), width=STOP_W)),
        ))

    def update(self, status: dict) -> None:
        self.words.text = w.ready_words(status)


class SoakScreen(KioskScreen):
    key = SOAK

    def __init__(self, kiosk):
        super().__init__(kiosk)
        self.ring = fixed(Ring(thickness=18), width=theme.RING_SOAK)
        self.water = Text("", size=theme.LARGE, bold=True, colour=theme.WARM, size_hint_y=None, height=52)
        self.target = Text("", size=theme.SMALL, colour=theme.TEXT_SOFT, size_hint_y=None, height=28)
        self.why = FitText("", size=theme.SMALL + 2, smallest=theme.MIN_READ, colour=theme.ALERT,
                           size_hint_y=None, height=0)
        self.extra = FitText("", size=theme.SMALL, smallest=theme.MIN_READ, colour=theme.TEXT_SOFT,
                             valign="top")
        self.pause = BigButton(_("Pause"), self._pause_or_resume)
        right = column(title(_("Soak and relax")), self.water, self.target, self.why, self.extra, padding=0,
                       spacing=6)
        self.add_widget(screen_body(
            beside(self.ring, right),
            row(self.pause, BigButton(_("+1 min"), lambda: kiosk.send("extend")), stop_button(kiosk)),
        ))
        self._paused = False

    def _pause_or_resume(self):
        self.kiosk.send("resume" if self._paused else "pause")

    def update(self, status: dict) -> None:
        session = status["session"]
        total = self.kiosk.soak_length_s(session)
        self.ring.fraction = (session["remaining_s"] or 0) / total if total else 0
        self.ring.label = w.minutes(session["remaining_s"])
        self.ring.caption = _("minutes left")
        self.ring.running = not session["pause_reason"]
        self.water.text = w.temperature(status["water_c"])
        self.target.text = _("Target {temp}").format(temp=w.temperature(status["target_c"]))
        self.why.text = w.pause_words(session["pause_reason"])
        self.why.height = 62 if self.why.text else 0  # only a paused countdown needs the room
        self._paused = session["pause_reason"] == "user"
        self.pause.text = _("Resume") if self._paused else _("Pause")
        self.extra.text = session["text"]


class StepScreen(KioskScreen):
    key = STEP
    animate_pace = True  # still pictures (screenshots) show where the rep is, unmoving

    def __init__(self, kiosk):
        super().__init__(kiosk)
        self.picture = Illustration()
        self.foot = Text("", size=theme.MEDIUM, bold=True, colour=theme.ACCENT, halign="center",
                         size_hint_y=None, height=36)
        self.counter = Text("", size=theme.SMALL - 2, colour=theme.TEXT_SOFT, size_hint_y=None, height=26)
        self.title = FitText("", size=theme.LARGE - 4, smallest=theme.SMALL + 2, bold=True,
                             size_hint_y=None, height=50)
        self.say = FitText("", size=theme.MEDIUM - 2, smallest=theme.MIN_READ, valign="top")
        self.next = FitText("", size=theme.SMALL - 2, smallest=theme.MIN_READ, colour=theme.TEXT_SOFT,
                            valign="bottom", size_hint_y=None, height=46)  # room for two lines
        self.ring = Ring(thickness=14, size_hint=(None, None), size=(theme.RING_STEP, theme.RING_STEP))
        self.pause = BigButton(_("Pause"), self._pause_or_resume)
        self.next_button = BigButton(_("Next"), self._next)
        left = column(self.picture, self.foot, padding=0, spacing=4)
        text = column(self.counter, self.title, self.say, self.next, padding=0, spacing=4)
        self.side = column(self.ring, Widget(), padding=0, spacing=0)
        self.add_widget(screen_body(
            beside(fixed(left, width=theme.STEP_PICTURE), text, fixed(self.side, width=theme.RING_STEP),
                   spacing=theme.GAP),
            row(BigButton(_("Back"), lambda: kiosk.send("back")), self.pause, self.next_button,
                stop_button(kiosk)),
            spacing=12))
        self._paused = False
        self._prompt = False
        self._pace_anim: Animation | None = None

    def _pause_or_resume(self):
        if not self._prompt:
            self.kiosk.send("resume" if self._paused else "pause")

    def _next(self):
        self.kiosk.send("confirm" if self._prompt else "next")

    def update(self, status: dict) -> None:
        s = status["session"]
        self._prompt = s["waiting_for_tap"]
        self._paused = s["pause_reason"] == "user"
        self.counter.text = w.step_counter(s)
        self.foot.text = w.foot_words(s["foot"])
        self.title.text = s["title"]
        self.say.text = s["text"] if not self._paused else w.pause_words("user")
        self.next.text = w.next_words(s["next_title"] if s["next_title"] != s["title"] else
                                      f"{s['title']} · {w.foot_words('right')}")
        self.picture.technique = s["illustration"] or ""
        self.picture.foot = s["foot"] or "left"
        self.pause.enabled = not self._prompt
        self.pause.text = _("Resume") if self._paused else _("Pause")
        self.next_button.text = _("Next")
        # When the step waits for the customer, Next is what moves it on: make it the bright one.
        prompt = self._prompt
        self.next_button.fill = theme.PRIMARY if prompt else theme.SURFACE
        self.next_button.fill_pressed = theme.PRIMARY_PRESSED if prompt else theme.SURFACE_PRESSED
        self.next_button.text_colour = theme.PRIMARY_TEXT if prompt else theme.TEXT
        # A prompt has no countdown: its words get the ring's room.
        self.ring.opacity = 0 if self._prompt else 1
        self.side.width = 0 if self._prompt else theme.RING_STEP
        self.ring.running = not s["pause_reason"]
        if s["reps"]:
            self.ring.label = w.rep_words(s)
            self.ring.caption = _("repetitions")
            self._pace(s)
        else:
            self._stop_pace()
            length = self.kiosk.step_length_s(s)
            self.ring.label = w.minutes(s["remaining_s"])
            self.ring.caption = _("left")
            self.ring.fraction = (s["remaining_s"] or 0) / length if length else 0

    def _stop_pace(self) -> None:
        if self._pace_anim is not None:
            self._pace_anim.cancel(self.ring)
            self._pace_anim = None
            self.kiosk.moving("pacing", False)

    def _pace(self, s: dict) -> None:
        """The pacing cue: the ring fills once per repetition at the routine's pace, so one
        stroke follows one turn of the ring. Each status push puts it back in step."""
        self._stop_pace()
        rep_s = s["rep_s"] or 1.0
        into = (s["reps"] * rep_s - (s["remaining_s"] or 0)) % rep_s
        self.ring.fraction = into / rep_s
        if self._paused or s["pause_reason"] or not self.animate_pace:
            return
        self._pace_anim = Animation(fraction=1.0, duration=max(0.05, rep_s - into))
        self._pace_anim.bind(on_complete=lambda *_: self.kiosk.moving("pacing", False))
        self.kiosk.moving("pacing", True, fps=PACING_FPS)  # a frame rate of its own while it turns
        self._pace_anim.start(self.ring)

    def on_leave(self, *args):
        self._stop_pace()


class DoneScreen(KioskScreen):
    key = DONE

    def __init__(self, kiosk):
        super().__init__(kiosk)
        self.title = title(height=60)
        self.text = FitText("", size=theme.MEDIUM + 2, valign="top")
        words = column(self.title, self.text, padding=0, spacing=12)
        self.add_widget(screen_body(
            beside(fixed(Sign(kind="done"), width=170), words),
            row(Widget(), fixed(primary_button(_("Finish"), kiosk.finish), width=300)),
        ))

    def update(self, status: dict) -> None:
        self.title.text, self.text.text = w.done_words(status)


class FaultScreen(KioskScreen):
    key = FAULT

    def __init__(self, kiosk):
        super().__init__(kiosk)
        self.words = FitText("", size=theme.LARGE, smallest=theme.SMALL + 2, bold=True, valign="top")
        self.heater = Text("", size=theme.MEDIUM, bold=True, colour=theme.OK, size_hint_y=None, height=48)
        heading = beside(fixed(Sign(kind="alert"), width=96),
                         title(_("Please call staff"), colour=theme.ALERT, height=96), spacing=theme.GAP,
                         size_hint_y=None, height=96)
        self.add_widget(screen_body(heading, self.words, self.heater,
                                    padding=[theme.PAD, 8, theme.PAD, theme.PAD + 8]))

    def update(self, status: dict) -> None:
        faults = status["faults"]
        self.words.text = w.fault_words(faults[0]["code"] if faults else None)
        self.heater.text = _("Heater: on") if status["heater"] else _("Heater: off")
        self.heater.color = theme.STOP if status["heater"] else theme.OK


class OfflineScreen(KioskScreen):
    key = OFFLINE

    def __init__(self, kiosk):
        super().__init__(kiosk)
        self.add_widget(screen_body(
            fixed(Sign(kind="offline"), height=130),
            Text(_("Reconnecting…"), size=theme.LARGE, bold=True, halign="center", size_hint_y=None,
                 height=60),
            FitText(_("The bath controller is not answering yet. It keeps the water safe on its own; "
                      "this screen comes back by itself."), size=theme.MEDIUM, colour=theme.TEXT_SOFT,
                    halign="center", valign="top"),
            padding=[theme.PAD * 3, theme.PAD, theme.PAD * 3, theme.PAD]))


class PinScreen(KioskScreen):
    key = PIN
    KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "⌫", "0", "OK")

    def __init__(self, kiosk):
        super().__init__(kiosk)
        self.entered = ""
        self.shown = Text("", size=theme.LARGE, halign="center", font_name=theme.FONT_SYMBOLS)  # has ●
        self.message = FitText(_("Staff PIN"), size=theme.MEDIUM, smallest=theme.MIN_READ,
                               colour=theme.TEXT_SOFT, halign="center", size_hint_y=None, height=72)
        pad = GridLayout(cols=3, spacing=8)
        for key in self.KEYS:
            pad.add_widget(BigButton(key, lambda k=key: self._key(k), size=theme.LARGE, size_hint_y=1,
                                     font_name=theme.FONT_SYMBOLS if key == "⌫" else theme.FONT))
        left = column(self.message, Panel(self.shown, size_hint_y=None, height=90), Widget(),
                      BigButton(_("Cancel"), kiosk.close_staff), padding=0, spacing=12)
        self.add_widget(screen_body(beside(fixed(left, width=300), pad)))

    def on_pre_enter(self, *args):
        self.entered = ""
        self.shown.text = ""
        self.message.text = _("Staff PIN")
        self.message.color = theme.TEXT_SOFT

    def _key(self, key: str) -> None:
        if key == "⌫":
            self.entered = self.entered[:-1]
        elif key == "OK":
            self.kiosk.check_pin(self.entered)
            self.entered = ""
        elif len(self.entered) < 8:
            self.entered += key
        self.shown.text = "●" * len(self.entered)

    def refused(self, message: str) -> None:
        self.message.text = message
        self.message.color = theme.ALERT
        self.entered = ""
        self.shown.text = ""


class StaffScreen(KioskScreen):
    key = STAFF

    def __init__(self, kiosk):
        super().__init__(kiosk)
        self.summary = FitText("", size=theme.SMALL, smallest=theme.STAFF_MIN, valign="top")
        self.cleaning = FitText("", size=theme.SMALL, smallest=theme.STAFF_MIN, valign="top")
        self.ack = BigButton(_("Acknowledge fault"), kiosk.acknowledge, size=theme.SMALL,
                             fill=theme.SURFACE_PRESSED)
        self.clean = BigButton(_("Start cleaning"), kiosk.clean_step, size=theme.SMALL,
                               fill=theme.SURFACE_PRESSED, fill_pressed=theme.TRACK)
        self.cancel = BigButton(_("Cancel cleaning"), lambda: kiosk.clean("cancel"), size=theme.SMALL,
                                fill=theme.SURFACE_PRESSED, fill_pressed=theme.TRACK)
        left = Panel(self.summary, self.ack, orientation="vertical")
        right = Panel(self.cleaning, row(self.clean, self.cancel, spacing=8), orientation="vertical")
        settings = row(BigButton(_("Quieter"), lambda: kiosk.change_volume(-0.1), size=theme.SMALL),
                       BigButton(_("Louder"), lambda: kiosk.change_volume(0.1), size=theme.SMALL),
                       BigButton(_("Dimmer"), lambda: kiosk.change_brightness(-0.1), size=theme.SMALL),
                       BigButton(_("Brighter"), lambda: kiosk.change_brightness(0.1), size=theme.SMALL),
                       BigButton(_("Close"), kiosk.close_staff, size=theme.SMALL))
        self.add_widget(screen_body(beside(left, right, spacing=theme.GAP), settings, spacing=12))

    def update(self, status: dict) -> None:
        lines = [
            _("Signed in: {who}").format(who=self.kiosk.ui.staff),
            _("Water {water}, target {target}, heater {heater}").format(
                water=w.temperature(status["water_c"]),
                target=w.temperature(status["target_c"]) if status["target_c"] else "-",
                heater=_("on") if status["heater"] else _("off")),
            _("Phase: {phase}").format(phase=status["phase"]),
        ]
        lines += [f"{f['code']}: {f['message']}" for f in status["faults"]] or [_("No faults")]
        errors = status.get("routine_errors") or []
        lines += [_("Routine files with errors: {n}").format(n=len(errors)), *errors[:3]] if errors \
            else [_("All routine files are valid")]
        if status.get("journal_error"):
            lines.append(status["journal_error"])
        lines.append(_("Volume {pct} %, brightness {light} %").format(
            pct=round(self.kiosk.volume * 100), light=round(self.kiosk.light.brightness * 100)))
        self.summary.text = "\n".join(lines)
        self.ack.enabled = bool(status["faults"])
        c = status.get("cleaning")
        if c:
            left = f" ({w.minutes(c['remaining_s'])})" if c["remaining_s"] is not None else ""
            self.cleaning.text = (_("Cleaning, step {i} of {n}: {title}").format(
                i=c["index"] + 1, n=c["count"], title=c["title"]) + left + "\n" + c["text"])
            self.clean.text = _("Done: next step")
            self.clean.enabled = not c["remaining_s"]
        else:
            self.cleaning.text = (_("The basin needs cleaning.") if status["cleaning_needed"]
                                  else _("The basin is clean."))
            self.clean.text = _("Start cleaning")
            self.clean.enabled = True
        self.cancel.enabled = bool(c)


SCREENS = (HomeScreen, HealthScreen, FillScreen, WarmScreen, ReadyScreen, SoakScreen, StepScreen,
           DoneScreen, FaultScreen, OfflineScreen, PinScreen, StaffScreen)
