"""The kiosk's few widgets: big rounded buttons, a countdown ring, a temperature graph, text."""

from __future__ import annotations

import math

from kivy.graphics import Color, Ellipse, Line, RoundedRectangle
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from . import theme


class Text(Label):
    """A label that wraps to its width and keeps to the theme."""

    def __init__(self, text: str = "", *, size: int = theme.MEDIUM, bold: bool = False,
                 colour=theme.TEXT, halign: str = "left", valign: str = "middle", **kwargs):
        super().__init__(text=text, font_size=size, bold=bold, color=colour, halign=halign,
                         valign=valign, **kwargs)
        self.bind(size=self._wrap)

    def _wrap(self, *_):
        self.text_size = (self.width, self.height)


class BigButton(ButtonBehavior, Label):
    """A rounded button never smaller than 15 mm; it acts on release, once, with no delay."""

    fill = ListProperty(theme.SURFACE)
    fill_pressed = ListProperty(theme.SURFACE_PRESSED)
    enabled = BooleanProperty(True)

    def __init__(self, text: str, on_tap=None, *, fill=theme.SURFACE, fill_pressed=theme.SURFACE_PRESSED,
                 size: int = theme.MEDIUM, **kwargs):
        kwargs.setdefault("size_hint_y", None)
        kwargs.setdefault("height", theme.BUTTON_H)
        super().__init__(text=text, font_size=size, bold=True, color=theme.TEXT, halign="center",
                         valign="middle", **kwargs)
        self.fill, self.fill_pressed = fill, fill_pressed
        self.on_tap = on_tap
        self.always_release = False
        with self.canvas.before:
            self._colour = Color(*self.fill)
            self._shape = RoundedRectangle(radius=[theme.RADIUS])
        self.bind(pos=self._redraw, size=self._redraw, state=self._redraw, fill=self._redraw,
                  enabled=self._redraw)

    def _redraw(self, *_):
        self.text_size = (self.width - 2 * theme.GAP, None)
        colour = self.fill_pressed if self.state == "down" else self.fill
        self._colour.rgba = colour if self.enabled else (*colour[:3], 0.35)
        self.color = theme.TEXT if self.enabled else (*theme.TEXT[:3], 0.45)
        self._shape.pos, self._shape.size = self.pos, self.size

    def on_touch_down(self, touch):
        if not self.enabled:
            return self.collide_point(*touch.pos)  # swallow it: nothing behind reacts either
        return super().on_touch_down(touch)

    def on_release(self):
        if self.enabled and self.on_tap is not None:
            self.on_tap()


class Ring(Widget):
    """A countdown ring: the arc that is left, with the time in the middle."""

    fraction = NumericProperty(1.0)  # of the countdown still to run
    label = StringProperty("")
    caption = StringProperty("")
    thickness = NumericProperty(14)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        with self.canvas:
            Color(*theme.TRACK)
            self._track = Line(width=self.thickness)
            Color(*theme.ACCENT)
            self._arc = Line(width=self.thickness, cap="round")
        self._time = Text(size=theme.HUGE, bold=True, halign="center")
        self._caption = Text(size=theme.SMALL, colour=theme.TEXT_SOFT, halign="center")
        self.add_widget(self._time)
        self.add_widget(self._caption)
        self.bind(pos=self._redraw, size=self._redraw, fraction=self._redraw, label=self._relabel,
                  caption=self._relabel)

    def _geometry(self):
        radius = min(self.width, self.height) / 2 - self.thickness
        return self.center_x, self.center_y, max(radius, 1)

    def _redraw(self, *_):
        cx, cy, r = self._geometry()
        self._track.circle = (cx, cy, r)
        angle = 360 * max(0.0, min(1.0, self.fraction))
        self._arc.circle = (cx, cy, r, 0, angle) if angle > 0.5 else (cx, cy, r, 0, 0.5)
        self._time.size = (2 * r * 0.9, r)
        self._time.center = (cx, cy + r * 0.08)
        self._caption.size = (2 * r * 0.8, r * 0.4)
        self._caption.center = (cx, cy - r * 0.45)

    def _relabel(self, *_):
        self._time.text = self.label
        self._caption.text = self.caption


class PaceDot(Widget):
    """A soft pulse for the pace of a repetition: it fills once per rep."""

    phase = NumericProperty(0.0)  # 0..1 within the current repetition

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        with self.canvas:
            Color(*theme.TRACK)
            self._base = Ellipse()
            self._colour = Color(*theme.ACCENT)
            self._dot = Ellipse()
        self.bind(pos=self._redraw, size=self._redraw, phase=self._redraw)

    def _redraw(self, *_):
        d = min(self.width, self.height)
        self._base.pos = (self.center_x - d / 2, self.center_y - d / 2)
        self._base.size = (d, d)
        grown = d * (0.25 + 0.75 * math.sin(math.pi * self.phase))
        self._dot.pos = (self.center_x - grown / 2, self.center_y - grown / 2)
        self._dot.size = (grown, grown)


class TempGraph(Widget):
    """The session's water temperature so far, with the target as a line."""

    points = ListProperty([])  # [(seconds since start, water C or None), ...]
    target_c = NumericProperty(38.0)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        with self.canvas:
            Color(*theme.TRACK)
            self._frame = Line(width=1.2)
            Color(*theme.WARM)
            self._target = Line(width=1.5, dash_length=8, dash_offset=6)
            Color(*theme.ACCENT)
            self._line = Line(width=2.5)
        self.bind(pos=self._redraw, size=self._redraw, points=self._redraw, target_c=self._redraw)

    def _redraw(self, *_):
        x, y, w, h = self.x, self.y, self.width, self.height
        self._frame.rectangle = (x, y, w, h)
        valid = [(t, c) for t, c in self.points if c is not None]
        lo = min([self.target_c - 8.0] + [c for _, c in valid])
        hi = max([self.target_c + 1.0] + [c for _, c in valid])
        span_t = max(600.0, max((t for t, _ in valid), default=0.0))

        def to_xy(t, c):
            return x + w * t / span_t, y + h * (c - lo) / (hi - lo)

        ty = to_xy(0, self.target_c)[1]
        self._target.points = [x, ty, x + w, ty]
        self._line.points = [v for t, c in valid for v in to_xy(t, c)]
