"""The kiosk's screens. Each one lays itself out once and then only updates its texts and
values from the status (`update`), so a status push redraws what changed and nothing else."""

from __future__ import annotations

from kivy.animation import Animation
from kivy.uix.anchorlayout import AnchorLayout
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.screenmanager import Screen
from kivy.uix.widget import Widget

from . import theme
from . import words as w
from .flow import DONE, FAULT, FILL, HEALTH, HOME, OFFLINE, PIN, READY, SOAK, STAFF, STEP, WARM
from .i18n import _
from .illustration import Illustration
from .widgets import BigButton, PaceDot, Ring, TempGraph, Text


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


def stop_button(kiosk) -> BigButton:
    return BigButton(_("Stop"), kiosk.stop_session, fill=theme.STOP, fill_pressed=theme.STOP_PRESSED)


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
        self.title = Text(_("Choose your foot bath"), size=theme.LARGE, bold=True,
                          size_hint_y=None, height=64)
        self.state = Text("", size=theme.SMALL, colour=theme.TEXT_SOFT, size_hint_y=None, height=34)
        self.cards = GridLayout(cols=2, spacing=theme.GAP)
        self.add_widget(column(self.title, self.state, self.cards,
                               padding=[theme.PAD, 8, theme.PAD, theme.PAD]))
        self._shown: list | None = None

    def update(self, status: dict) -> None:
        self.state.text = w.home_state(status)
        routines = self.kiosk.routines
        key = [r["id"] for r in routines]
        if key != self._shown:
            self._shown = key
            self.cards.clear_widgets()
            for r in routines[:4]:  # the screen holds four; staff keep the offer short
                self.cards.add_widget(self._card(r))
        for card in self.cards.children:
            card.enabled = not status.get("cleaning_needed")

    def _card(self, r: dict) -> BigButton:
        gentle = _(" (gentle)") if r["id"] == "gentle" else ""
        text = (f"[size={theme.MEDIUM}][b]{r['name']}[/b][/size]{gentle}\n"
                f"[size={theme.SMALL - 2}]{r['description']}[/size]\n"
                f"[size={theme.SMALL}][color=f2b880]{w.length_words(r['length_s'])}  ·  "
                f"{w.temperature(r['target_c'])}[/color][/size]")
        card = BigButton(text, lambda rid=r["id"]: self.kiosk.choose(rid), size=theme.SMALL,
                         size_hint_y=1)
        card.markup = True
        card.halign = "left"
        return card


class HealthScreen(KioskScreen):
    key = HEALTH

    def __init__(self, kiosk):
        super().__init__(kiosk)
        self.add_widget(column(
            Text(_("Before we start"), size=theme.LARGE, bold=True, size_hint_y=None, height=60),
            Text(_("Do any of these apply to you: diabetes, reduced feeling in your feet, "
                   "circulation problems, or pregnancy?"), size=theme.MEDIUM),
            Text(_("If one does, we use the gentle setting: 37 °C, a shorter soak and light "
                   "pressure only."), size=theme.SMALL, colour=theme.TEXT_SOFT, size_hint_y=None,
                 height=64),
            row(BigButton(_("Yes, one applies"), lambda: kiosk.start("gentle")),
                BigButton(_("No, none apply"), lambda: kiosk.start("standard"))),
            row(BigButton(_("Back"), kiosk.back_home), Widget()),
        ))


class FillScreen(KioskScreen):
    key = FILL

    def __init__(self, kiosk):
        super().__init__(kiosk)
        self.note = Text("", size=theme.SMALL, colour=theme.WARM, size_hint_y=None, height=40)
        self.add_widget(column(
            Text(_("Fill the basin"), size=theme.LARGE, bold=True, size_hint_y=None, height=60),
            Text(_("Fill the basin with warm water up to the line, then tap Continue. "
                   "We will bring it to the right temperature."), size=theme.MEDIUM),
            self.note,
            row(BigButton(_("Continue"), lambda: kiosk.send("confirm")), stop_button(kiosk)),
        ))

    def update(self, status: dict) -> None:
        session = status["session"] or {}
        gentle = session.get("profile") == "gentle"
        self.note.text = _("Gentle setting: 37 °C, a shorter soak, light pressure.") if gentle else ""


class WarmScreen(KioskScreen):
    key = WARM

    def __init__(self, kiosk):
        super().__init__(kiosk)
        self.water = Text("", size=theme.HUGE, bold=True, colour=theme.WARM, size_hint_y=None, height=120)
        self.target = Text("", size=theme.MEDIUM, colour=theme.TEXT_SOFT, size_hint_y=None, height=44)
        self.eta = Text("", size=theme.MEDIUM, size_hint_y=None, height=90)
        self.graph = TempGraph()
        left = column(Text(_("Warming the water"), size=theme.LARGE, bold=True, size_hint_y=None,
                           height=60),
                      self.water, self.target, self.eta, Widget(), padding=0)
        body = BoxLayout(spacing=theme.PAD)
        body.add_widget(left)
        body.add_widget(column(self.graph, padding=[0, 40, 0, 20]))
        self.add_widget(column(body, row(Widget(), stop_button(kiosk))))

    def update(self, status: dict) -> None:
        self.water.text = w.temperature(status["water_c"])
        self.target.text = _("Target {temp}").format(temp=w.temperature(status["target_c"]))
        self.eta.text = w.warming_words(status)
        self.graph.target_c = status["target_c"] or 38.0
        self.graph.points = self.kiosk.graph


class ReadyScreen(KioskScreen):
    key = READY

    def __init__(self, kiosk):
        super().__init__(kiosk)
        self.words = Text("", size=theme.LARGE, bold=True)
        self.add_widget(column(
            Text(_("Ready"), size=theme.MEDIUM, colour=theme.ACCENT, size_hint_y=None, height=44),
            self.words,
            row(BigButton(_("Start"), lambda: kiosk.send("confirm"), fill=theme.SURFACE_PRESSED),
                stop_button(kiosk)),
        ))

    def update(self, status: dict) -> None:
        self.words.text = w.ready_words(status)


class SoakScreen(KioskScreen):
    key = SOAK

    def __init__(self, kiosk):
        super().__init__(kiosk)
        self.ring = Ring(size_hint_x=None, width=300)
        self.water = Text("", size=theme.LARGE, bold=True, colour=theme.WARM, size_hint_y=None, height=60)
        self.why = Text("", size=theme.SMALL, colour=theme.ALERT, size_hint_y=None, height=70)
        self.extra = Text("", size=theme.SMALL, colour=theme.TEXT_SOFT)
        self.pause = BigButton(_("Pause"), self._pause_or_resume)
        right = column(Text(_("Soak and relax"), size=theme.LARGE, bold=True, size_hint_y=None,
                            height=60),
                       self.water, self.why, self.extra, padding=0)
        body = BoxLayout(spacing=theme.PAD)
        body.add_widget(self.ring)
        body.add_widget(right)
        self.add_widget(column(body, row(self.pause, BigButton(_("+1 min"), lambda: kiosk.send("extend")),
                                         stop_button(kiosk))))
        self._paused = False

    def _pause_or_resume(self):
        self.kiosk.send("resume" if self._paused else "pause")

    def update(self, status: dict) -> None:
        session = status["session"]
        total = self.kiosk.soak_length_s(session)
        self.ring.fraction = (session["remaining_s"] or 0) / total if total else 0
        self.ring.label = w.minutes(session["remaining_s"])
        self.ring.caption = _("minutes left")
        self.water.text = w.temperature(status["water_c"])
        self.why.text = w.pause_words(session["pause_reason"])
        self._paused = session["pause_reason"] == "user"
        self.pause.text = _("Resume") if self._paused else _("Pause")
        self.extra.text = session["text"]


class StepScreen(KioskScreen):
    key = STEP

    def __init__(self, kiosk):
        super().__init__(kiosk)
        self.counter = Text("", size=theme.SMALL, colour=theme.TEXT_SOFT, size_hint_y=None, height=30)
        self.foot = Text("", size=theme.MEDIUM, bold=True, colour=theme.ACCENT, size_hint_y=None,
                         height=40, halign="right")
        self.title = Text("", size=theme.LARGE, bold=True, size_hint_y=None, height=56)
        self.say = Text("", size=theme.SMALL + 2, valign="top")
        self.next = Text("", size=theme.SMALL, colour=theme.TEXT_SOFT, size_hint_y=None, height=30)
        self.picture = Illustration(size_hint_x=None, width=200)
        self.ring = Ring(size_hint=(None, None), size=(150, 150), thickness=9)
        self.pace = PaceDot(size_hint=(None, None), size=(40, 40))
        self.pause = BigButton(_("Pause"), self._pause_or_resume)
        self.next_button = BigButton(_("Next"), self._next)
        header = BoxLayout(size_hint_y=None, height=40)
        header.add_widget(self.counter)
        header.add_widget(self.foot)
        text = column(self.title, self.say, self.next, padding=0, spacing=6)
        side = column(self.ring, AnchorLayout(size_hint=(None, None), size=(150, 40)), padding=0,
                      spacing=4, size_hint_x=None, width=150)
        side.children[0].add_widget(self.pace)
        body = BoxLayout(spacing=theme.GAP)
        body.add_widget(self.picture)
        body.add_widget(text)
        body.add_widget(side)
        self.add_widget(column(header, body,
                               row(BigButton(_("Back"), lambda: kiosk.send("back")), self.pause,
                                   self.next_button, stop_button(kiosk)),
                               spacing=8, padding=[theme.PAD, 12, theme.PAD, theme.PAD]))
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
                                      f"{s['title']} ({w.foot_words('right').lower()})")
        self.picture.technique = s["illustration"] or ""
        self.picture.foot = s["foot"] or "left"
        self.pause.enabled = not self._prompt
        self.pause.text = _("Resume") if self._paused else _("Pause")
        self.next_button.text = _("Next")
        self.ring.opacity = 0 if self._prompt else 1
        if s["reps"]:
            self.ring.label = w.rep_words(s)
            self.ring.caption = _("repetitions")
            self.ring.fraction = 1 - (s["rep"] - 1) / s["reps"]
            self._pace(s)
        else:
            self.pace.opacity = 0
            length = self.kiosk.step_length_s(s)
            self.ring.label = w.minutes(s["remaining_s"])
            self.ring.caption = _("left")
            self.ring.fraction = (s["remaining_s"] or 0) / length if length else 0

    def _pace(self, s: dict) -> None:
        """The dot swells once per repetition, at the routine's pace."""
        self.pace.opacity = 1
        rep_s = s["rep_s"] or 1.0
        into = (s["reps"] * rep_s - (s["remaining_s"] or 0)) % rep_s
        if self._pace_anim is not None:
            self._pace_anim.cancel(self.pace)
        if self._paused:
            return
        self.pace.phase = into / rep_s
        self._pace_anim = Animation(phase=1.0, duration=max(0.05, rep_s - into))
        self._pace_anim.start(self.pace)


class DoneScreen(KioskScreen):
    key = DONE

    def __init__(self, kiosk):
        super().__init__(kiosk)
        self.title = Text("", size=theme.LARGE, bold=True, size_hint_y=None, height=70)
        self.text = Text("", size=theme.MEDIUM)
        self.add_widget(column(self.title, self.text, row(Widget(), BigButton(_("Finish"), kiosk.finish))))

    def update(self, status: dict) -> None:
        self.title.text, self.text.text = w.done_words(status)


class FaultScreen(KioskScreen):
    key = FAULT

    def __init__(self, kiosk):
        super().__init__(kiosk)
        self.words = Text("", size=theme.LARGE, bold=True)
        self.heater = Text("", size=theme.MEDIUM, colour=theme.TEXT_SOFT, size_hint_y=None, height=50)
        self.add_widget(column(
            Text(_("Please call staff"), size=theme.LARGE, bold=True, colour=theme.ALERT,
                 size_hint_y=None, height=64),
            self.words, self.heater))

    def update(self, status: dict) -> None:
        faults = status["faults"]
        self.words.text = w.fault_words(faults[0]["code"] if faults else None)
        self.heater.text = _("Heater: on") if status["heater"] else _("Heater: off")


class OfflineScreen(KioskScreen):
    key = OFFLINE

    def __init__(self, kiosk):
        super().__init__(kiosk)
        self.add_widget(column(
            Widget(),
            Text(_("Reconnecting…"), size=theme.LARGE, bold=True, halign="center", size_hint_y=None,
                 height=70),
            Text(_("The bath controller is not answering yet. It keeps the water safe on its own; "
                   "this screen comes back by itself."), size=theme.MEDIUM, colour=theme.TEXT_SOFT,
                 halign="center"),
            Widget()))


class PinScreen(KioskScreen):
    key = PIN

    def __init__(self, kiosk):
        super().__init__(kiosk)
        self.entered = ""
        self.shown = Text("", size=theme.LARGE, bold=True, halign="center", size_hint_y=None, height=56)
        self.message = Text(_("Staff PIN"), size=theme.SMALL, colour=theme.TEXT_SOFT, halign="center",
                            size_hint_y=None, height=30)
        pad = GridLayout(cols=6, spacing=theme.GAP // 2)
        for key in ("1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "⌫", "OK"):
            pad.add_widget(BigButton(key, lambda k=key: self._key(k), size=theme.LARGE,
                                     size_hint_y=1, font_name="DejaVuSans" if key == "⌫" else "Roboto"))
        self.add_widget(column(self.message, self.shown, pad,
                               row(BigButton(_("Cancel"), kiosk.close_staff), Widget()),
                               spacing=8, padding=[theme.PAD, 8, theme.PAD, theme.PAD]))

    def on_pre_enter(self, *_):
        self.entered = ""
        self.shown.text = ""
        self.message.text = _("Staff PIN")

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
        self.entered = ""
        self.shown.text = ""


class StaffScreen(KioskScreen):
    key = STAFF

    def __init__(self, kiosk):
        super().__init__(kiosk)
        self.summary = Text("", size=theme.SMALL, valign="top")
        self.cleaning = Text("", size=theme.SMALL, valign="top")
        self.ack = BigButton(_("Acknowledge fault"), kiosk.acknowledge, size=theme.SMALL)
        self.clean = BigButton(_("Start cleaning"), kiosk.clean_step, size=theme.SMALL)
        self.cancel = BigButton(_("Cancel cleaning"), lambda: kiosk.clean("cancel"), size=theme.SMALL)
        self.volume = Text("", size=theme.SMALL, halign="center")
        left = column(self.summary, row(self.ack, height=theme.BUTTON_H), padding=0)
        right = column(self.cleaning, row(self.clean, self.cancel), padding=0)
        body = BoxLayout(spacing=theme.PAD)
        body.add_widget(left)
        body.add_widget(right)
        settings = row(BigButton(_("Quieter"), lambda: kiosk.change_volume(-0.1), size=theme.SMALL),
                       self.volume,
                       BigButton(_("Louder"), lambda: kiosk.change_volume(0.1), size=theme.SMALL),
                       BigButton(_("Close"), kiosk.close_staff, size=theme.SMALL))
        self.add_widget(column(body, settings, padding=[theme.PAD, 12, theme.PAD, theme.PAD]))

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
        self.volume.text = _("Volume {pct} %").format(pct=round(self.kiosk.volume * 100))


SCREENS = (HomeScreen, HealthScreen, FillScreen, WarmScreen, ReadyScreen, SoakScreen, StepScreen,
           DoneScreen, FaultScreen, OfflineScreen, PinScreen, StaffScreen)
