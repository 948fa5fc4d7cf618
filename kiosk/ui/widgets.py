"""The kiosk's few widgets: big rounded buttons and routine cards, text that fits its box, a
countdown ring, a temperature graph, panels and a few drawn signs.

Text is never clipped: `FitText`, the buttons and the cards take the largest type that shows
all of their words in their box (down to the theme's smallest readable size). The sizes are
worked out with Kivy's own text layout, without drawing, and only when the words or the box
change: once, just before the next frame. A layout passes through provisional sizes first, and
every type size tried opens a font that stays open (SDL_ttf keeps them, some 90 KB each):
fitting each provisional box opened five fonts no screen showed.
"""

from __future__ import annotations

import math
from functools import lru_cache

from kivy.clock import Clock
from kivy.core.text import Label as CoreLabel
from kivy.core.text.markup import MarkupLabel as CoreMarkupLabel
from kivy.graphics import Color, Ellipse, Line, RoundedRectangle
from kivy.lang import Builder
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.widget import Widget
from kivy.utils import escape_markup

from . import theme
from . import words as w

LAST_RESORT = 12  # px: a card's description shrinks this far before it would spill out
REFERENCE = theme.MEDIUM  # px: the type other sizes are predicted from (see fitting_size)


def _let_go_of_drawn_text() -> None:
    """Kivy's SDL2 text provider keeps each label's drawing surface after its pixels have gone
    into the texture: a second copy of every text on every screen built. It
    makes a new one for each drawing, so the kiosk drops the old one as soon as it is read."""
    if CoreLabel.__name__ != "LabelSDL2" or getattr(CoreLabel, "_lets_go", False):
        return
    read = CoreLabel._render_end

    def render_end(label):
        try:
            return read(label)  # a copy of the pixels
        finally:
            label._surface = None

    CoreLabel._render_end, CoreLabel._lets_go = render_end, True


_let_go_of_drawn_text()


def stroke(**kwargs) -> Line:
    """A Kivy Line with bevelled joints unless told otherwise. Kivy rounds every joint with ten
    triangles; on a smooth curve (a ring, a foot's outline, a graph) that looks no different from a
    bevel, and drawn in software each round joint is memory the renderer keeps."""
    kwargs.setdefault("joint", "bevel")
    return Line(**kwargs)


def hex_of(colour) -> str:
    """A theme colour as markup wants it: 'f2b880'."""
    return "".join(f"{round(c * 255):02x}" for c in colour[:3])


@lru_cache(maxsize=512)
def text_size(text: str, width: int, *, font_size: int, bold: bool = False, markup: bool = False,
              font_name: str = theme.FONT) -> tuple[int, int]:
    """The (width, height) `text` takes when wrapped to `width`, laid out as a Label would."""
    core = (CoreMarkupLabel if markup else CoreLabel)(
        text=text, font_size=font_size, bold=bold, font_name=font_name, text_size=(width, None))
    core.resolve_font_name()
    core.render()
    return tuple(core._internal_size)


def before_next_frame(callback):
    """A trigger for `callback` that runs once, just before the next frame is drawn, when the
    layout has given the widget its size (Kivy's layouts and label textures wait the same way):
    work that depends on the size (fitting words, painting a picture) is not done for each
    provisional size a layout passes through."""
    return Clock.create_trigger(callback, -1)


def fitting_size(text: str, width: float, height: float, largest: int, smallest: int, *,
                 bold: bool = False, font_name: str = theme.FONT) -> int:
    """The largest type that shows all of `text` in the box, as far as it can tell without
    opening fonts: `largest` itself, else a size of the theme's scale below it, down to
    `smallest`.

    Every type size laid out opens a font for good (SDL_ttf keeps them, some 90 KB each), so
    the size is first predicted with one REFERENCE type for every size: the words laid out in
    the box scaled by reference/size. Type scales almost exactly, so the prediction
    is then checked at its own size, the one the text is drawn at, and only if it was hopeful
    are the sizes below tried. Measured on the kiosk's words: 98 % the size a size-by-size
    search finds, 1 % a step smaller.
    """
    width, height = int(width), int(height)
    sizes = [int(largest), *(s for s in theme.TYPE_SCALE if smallest < s < largest), int(smallest)]

    def fits(size: int, measured_at: int) -> bool:
        k = measured_at / size
        w_px, h_px = text_size(text, int(width * k), font_size=measured_at, bold=bold, font_name=font_name)
        return h_px <= height * k and w_px <= width * k

    # Larger type never takes less room, so the sizes that fit are the tail of the list.
    too_big, fitting = -1, len(sizes) - 1
    while fitting - too_big > 1:
        middle = (too_big + fitting) // 2
        if fits(sizes[middle], REFERENCE):
            fitting = middle
        else:
            too_big = middle
    return next((size for size in sizes[fitting:] if fits(size, size)), sizes[-1])


# A Text's picture of its words is only as tall as they are, placed in its box by `valign`:
# Kivy's own label rule would make it the size of the whole box, most of it empty.
Builder.load_string("""
<-Text>:
    canvas:
        Color:
            rgba: 1, 1, 1, 1
        Rectangle:
            texture: self.texture
            size: self.texture_size
            pos: (int(self.center_x - self.texture_size[0] / 2.), \
                  int(self.top - self.texture_size[1] if self.valign == "top" else \
                      self.y if self.valign == "bottom" else self.center_y - self.texture_size[1] / 2.))
""")


class Text(Label):
    """A label that wraps to its width and keeps to the theme."""

    def __init__(self, text: str = "", *, size: int = theme.MEDIUM, bold: bool = False,
                 colour=theme.TEXT, halign: str = "left", valign: str = "middle", **kwargs):
        super().__init__(text=text, font_size=size, bold=bold, color=colour, halign=halign,
                         valign=valign, **kwargs)
        self.bind(size=self._wrap)

    def _wrap(self, *_):
        self.text_size = (self.width, None)


class FitText(Text):
    """Text that takes the largest type from `size` down to `smallest` that shows every word in
    its box: a long instruction or a long translation gets smaller type, never clipped."""

    def __init__(self, text: str = "", *, size: int = theme.MEDIUM, smallest: int = theme.MIN_READ,
                 **kwargs):
        self.largest, self.smallest = size, smallest
        self._fitted: tuple | None = None
        super().__init__(text, size=size, **kwargs)
        self._fit_soon = before_next_frame(self._fit)
        self.bind(text=self._fit_soon, size=self._fit_soon)

    def _fit(self, *_):
        key = (self.text, int(self.width), int(self.height), self.largest)
        if key == self._fitted or self.width < 4 or self.height < 4:
            return
        self._fitted = key
        self.font_size = fitting_size(self.text, self.width, self.height, self.largest, self.smallest,
                                      bold=self.bold, font_name=self.font_name)


class BigButton(ButtonBehavior, Label):
    """A rounded button never smaller than 15 mm; it acts on release, once, with no delay."""

    fill = ListProperty(theme.SURFACE)
    fill_pressed = ListProperty(theme.SURFACE_PRESSED)
    text_colour = ListProperty(theme.TEXT)
    enabled = BooleanProperty(True)

    def __init__(self, text: str, on_tap=None, *, fill=theme.SURFACE, fill_pressed=theme.SURFACE_PRESSED,
                 text_colour=theme.TEXT, size: int = theme.MEDIUM, **kwargs):
        kwargs.setdefault("size_hint_y", None)
        kwargs.setdefault("height", theme.BUTTON_H)
        super().__init__(text=text, font_size=size, bold=True, color=text_colour, halign="center",
                         valign="middle", **kwargs)
        self.largest = size
        self.fill, self.fill_pressed, self.text_colour = fill, fill_pressed, text_colour
        self.on_tap = on_tap
        self.always_release = False
        with self.canvas.before:
            self._colour = Color(*self.fill)
            self._shape = RoundedRectangle(radius=[theme.RADIUS])
        self.bind(pos=self._redraw, size=self._redraw, state=self._redraw, fill=self._redraw,
                  enabled=self._redraw, text_colour=self._redraw)
        self._fit_soon = before_next_frame(self._fit)
        self.bind(size=self._fit_soon, text=self._fit_soon)

    def _fit(self, *_):
        inner_w, inner_h = self.width - 2 * theme.GAP, self.height - 2 * 8
        self.text_size = (inner_w, None)
        if inner_w > 0:
            self.font_size = fitting_size(self.text, inner_w, inner_h, self.largest, theme.MIN_READ,
                                          bold=True, font_name=self.font_name)

    def _redraw(self, *_):
        colour = self.fill_pressed if self.state == "down" else self.fill
        self._colour.rgba = colour if self.enabled else (*colour[:3], 0.35)
        self.color = self.text_colour if self.enabled else (*self.text_colour[:3], 0.45)
        self._shape.pos, self._shape.size = self.pos, self.size

    def on_touch_down(self, touch):
        if not self.enabled:
            return self.collide_point(*touch.pos)  # swallow it: nothing behind reacts either
        return super().on_touch_down(touch)

    def on_release(self):
        if self.enabled and self.on_tap is not None:
            self.on_tap()


def primary_button(text: str, on_tap) -> BigButton:
    """The one button that moves the session on (Start, Continue, Finish): the brightest."""
    return BigButton(text, on_tap, fill=theme.PRIMARY, fill_pressed=theme.PRIMARY_PRESSED,
                     text_colour=theme.PRIMARY_TEXT)


class Card(BigButton):
    """A routine on the home screen: its name, one line about it, then its length and water
    temperature. One tap target, one label (so the whole card reads as one thing), with the
    description's type fitted so that nothing is clipped: from SMALL down to MIN_READ, and
    smaller still only for a description far longer than the one line a routine should have."""

    def __init__(self, name: str, about: str, facts: str, on_tap, **kwargs):
        self.parts = (name, about, facts)
        self._composed: tuple | None = None
        super().__init__("", on_tap, size=theme.SMALL, size_hint_y=1, **kwargs)
        self.markup, self.bold = True, False
        self.halign, self.valign = "left", "middle"
        self.bind(enabled=self._fit_soon)  # a disabled card's words are dimmed

    def _fit(self, *_):
        inner_w = int(self.width - 2 * theme.CARD_PAD)
        inner_h = int(self.height - 2 * theme.CARD_PAD)
        if inner_w <= 0 or inner_h <= 0:
            return
        self.text_size = (inner_w, None)  # the label centres the words it fitted in the card
        key = (self.parts, inner_w, inner_h, self.enabled)
        if key != self._composed:
            self._composed = key
            self.text = self._compose(inner_w, inner_h)

    def _compose(self, width: int, height: int) -> str:
        name, about, facts = (escape_markup(p) for p in self.parts)
        alpha = "" if self.enabled else "73"
        name_size = fitting_size(self.parts[0], width, theme.MEDIUM * 1.3, theme.MEDIUM, theme.SMALL,
                                 bold=True)

        def at(about_size: int) -> str:
            # Each line is as tall as the largest type on it, newline included: no spacer lines.
            return (f"[size={name_size}][b]{name}[/b]\n[/size]"
                    f"[size={about_size}][color={hex_of(theme.TEXT_SOFT)}{alpha}]{about}[/color]\n[/size]"
                    f"[size={theme.SMALL}][b][color={hex_of(theme.WARM)}{alpha}]{facts}[/color][/b][/size]")

        for about_size in (s for s in theme.TYPE_SCALE if LAST_RESORT <= s <= theme.SMALL):
            if text_size(at(about_size), width, font_size=theme.SMALL, markup=True)[1] <= height:
                return at(about_size)
        return at(LAST_RESORT)


class Panel(BoxLayout):
    """A softly rounded surface that groups what belongs together."""

    def __init__(self, *children, fill=theme.SURFACE, radius: int = theme.RADIUS, **kwargs):
        kwargs.setdefault("padding", theme.GAP)
        kwargs.setdefault("spacing", 8)
        super().__init__(**kwargs)
        for child in children:
            self.add_widget(child)
        with self.canvas.before:
            self._colour = Color(*fill)
            self._shape = RoundedRectangle(radius=[radius])
        self.bind(pos=self._redraw, size=self._redraw)

    def _redraw(self, *_):
        self._shape.pos, self._shape.size = self.pos, self.size


def arc_segments(degrees: float) -> int:
    """Straight pieces for an arc of a ring: one per 5 degrees, half Kivy's count. On the largest
    ring a piece bows out from the true circle by a tenth of a pixel; each piece not drawn is
    vertices the software renderer need not keep."""
    return max(2, math.ceil(degrees / 5))


class Ring(Widget):
    """A countdown ring: the arc that is left, with the time (or the rep) in the middle."""

    fraction = NumericProperty(1.0)  # of the countdown still to run (or of this rep done)
    label = StringProperty("")
    caption = StringProperty("")
    thickness = NumericProperty(14)
    running = BooleanProperty(True)  # a paused ring is drawn soft

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        with self.canvas:
            Color(*theme.TRACK)
            self._track = stroke(width=self.thickness / 2)
            self._colour = Color(*theme.ACCENT)
            self._arc = stroke(width=self.thickness / 2, cap="round")
        self._time = FitText(size=theme.HUGE, smallest=theme.SMALL, bold=True, halign="center")
        self._caption = FitText(size=theme.SMALL, smallest=theme.MIN_READ, colour=theme.TEXT_SOFT,
                                halign="center")
        self.add_widget(self._time)
        self.add_widget(self._caption)
        # The pacing animation moves `fraction` every frame: that redraws the arc and nothing else.
        self.bind(pos=self._layout, size=self._layout, fraction=self._redraw, running=self._redraw,
                  label=self._relabel, caption=self._relabel)

    def _geometry(self):
        radius = min(self.width, self.height) / 2 - self.thickness / 2 - 1
        # From pos and size, not `center`: that alias can lag a size change by one callback.
        return self.x + self.width / 2, self.y + self.height / 2, max(radius, 1)

    def _redraw(self, *_):
        cx, cy, r = self._geometry()
        angle = max(0.5, 360 * max(0.0, min(1.0, self.fraction)))
        self._arc.circle = (cx, cy, r, 0, angle, arc_segments(angle))
        self._colour.rgba = theme.ACCENT if self.running else theme.TEXT_SOFT

    def _layout(self, *_):
        cx, cy, r = self._geometry()
        self._track.circle = (cx, cy, r, 0, 360, arc_segments(360))
        self._redraw()
        inner = r - self.thickness / 2
        self._time.size = (inner * 1.6, inner * 0.8)
        self._time.pos = (cx - self._time.width / 2, cy + inner * 0.1 - self._time.height / 2)
        self._caption.size = (inner * 1.3, inner * 0.3)
        self._caption.pos = (cx - self._caption.width / 2, cy - inner * 0.5 - self._caption.height / 2)

    def _relabel(self, *_):
        self._time.text = self.label
        self._caption.text = self.caption


class TempGraph(Widget):
    """The session's water temperature so far, with the target as a labelled line: the customer
    sees the water climbing toward it."""

    points = ListProperty([])  # [(seconds since start, water C or None), ...]
    target_c = NumericProperty(38.0)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        with self.canvas:
            Color(*theme.SURFACE)
            self._panel = RoundedRectangle(radius=[theme.RADIUS])
            Color(*theme.TRACK)
            self._base = stroke(width=1.2)
            Color(*theme.WARM[:3], 0.8)
            self._target = stroke(width=1.5)
            Color(*theme.ACCENT)
            self._line = stroke(width=2.5, cap="round")
            self._dot = Ellipse(size=(0, 0))
        self._target_label = Text("", size=theme.SMALL - 2, colour=theme.WARM, halign="right")
        self._start_label = Text("0", size=theme.SMALL - 4, colour=theme.TEXT_SOFT)
        self._end_label = Text("", size=theme.SMALL - 4, colour=theme.TEXT_SOFT, halign="right")
        for label in (self._target_label, self._start_label, self._end_label):
            self.add_widget(label)
        self.bind(pos=self._redraw, size=self._redraw, points=self._redraw, target_c=self._redraw)

    def _redraw(self, *_):
        self._panel.pos, self._panel.size = self.pos, self.size
        pad, foot = 18, 30  # room for the time labels under the plot
        x, y = self.x + pad, self.y + foot
        plot_w, plot_h = self.width - 2 * pad, self.height - foot - 40
        if plot_w <= 0 or plot_h <= 0:
            return
        valid = [(t, c) for t, c in self.points if c is not None]
        lo = math.floor(min([self.target_c - 8.0] + [c for _, c in valid]))
        hi = max([self.target_c + 1.0] + [c for _, c in valid])
        span_t = max(600.0, max((t for t, _ in valid), default=0.0))

        def to_xy(t, c):
            return x + plot_w * t / span_t, y + plot_h * (c - lo) / (hi - lo)

        ty = to_xy(0, self.target_c)[1]
        self._base.points = [x, y, x + plot_w, y]
        self._target.points = [x, ty, x + plot_w, ty]
        line = [v for t, c in valid for v in to_xy(t, c)]
        self._line.points = line
        if line:
            self._dot.pos, self._dot.size = (line[-2] - 7, line[-1] - 7), (14, 14)
        self._target_label.text = w.temperature(self.target_c)
        self._target_label.size = (plot_w, 28)
        self._target_label.pos = (x, ty + 4)
        self._start_label.size = self._end_label.size = (plot_w / 2, foot - 4)
        self._start_label.pos = (x, self.y + 2)
        self._end_label.pos = (x + plot_w / 2, self.y + 2)
        self._end_label.text = w.length_words(span_t)


class Sign(Widget):
    """A simple drawn sign beside a message: 'alert' (a warning triangle), 'done' (a tick in a
    circle) or 'offline' (a broken ring)."""

    kind = StringProperty("alert")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.bind(pos=self._redraw, size=self._redraw, kind=self._redraw)

    def _redraw(self, *_):
        self.canvas.clear()
        s = min(self.width, self.height)
        cx, cy = self.x + self.width / 2, self.y + self.height / 2  # not `center`: it can lag
        width = max(3.0, s * 0.045)
        with self.canvas:
            if self.kind == "alert":
                Color(*theme.ALERT)
                corners = [cx, cy + s * 0.42, cx - s * 0.46, cy - s * 0.36, cx + s * 0.46, cy - s * 0.36]
                Line(points=corners, close=True, width=width, joint="round")
                Line(points=[cx, cy + s * 0.18, cx, cy - s * 0.1], width=width * 1.2, cap="round")
                Ellipse(pos=(cx - width * 1.3, cy - s * 0.24 - width * 1.3), size=(width * 2.6, width * 2.6))
            elif self.kind == "done":
                Color(*theme.ACCENT)
                stroke(circle=(cx, cy, s * 0.44), width=width)
                Line(points=[cx - s * 0.2, cy, cx - s * 0.05, cy - s * 0.15, cx + s * 0.22, cy + s * 0.14],
                     width=width * 1.2, cap="round", joint="round")
            else:
                Color(*theme.TEXT_SOFT)
                stroke(circle=(cx, cy, s * 0.4, 20, 160), width=width, cap="round")
                stroke(circle=(cx, cy, s * 0.4, 200, 340), width=width, cap="round")
                Color(*theme.ACCENT)
                for dx in (-s * 0.14, 0.0, s * 0.14):
                    Ellipse(pos=(cx + dx - width, cy - width), size=(2 * width, 2 * width))
