"""A drawing for each massage step: a foot outline with the path and direction of the pressure.

The geometry is in `footart` (pure, tested without a window); this widget only draws it.
"""

from __future__ import annotations

from kivy.graphics import Color, Line, Mesh
from kivy.properties import StringProperty
from kivy.uix.widget import Widget

from . import footart, theme


class Illustration(Widget):
    technique = StringProperty("")
    foot = StringProperty("left")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.bind(pos=self._redraw, size=self._redraw, technique=self._redraw, foot=self._redraw)

    def _redraw(self, *_):
        self.canvas.clear()
        art = footart.drawing(self.technique, mirrored=self.foot == "right")
        side = min(self.width, self.height)
        ox = self.x + (self.width - side) / 2
        oy = self.y + (self.height - side) / 2

        def place(points):
            return [v for x, y in points for v in (ox + x * side, oy + y * side)]

        with self.canvas:
            Color(*theme.SURFACE)
            outline = place(art.outline)
            vertices = []
            for i in range(0, len(outline), 2):
                vertices += [outline[i], outline[i + 1], 0, 0]
            Mesh(vertices=vertices, indices=list(range(len(outline) // 2)), mode="triangle_fan")
            Color(*theme.TEXT_SOFT)
            Line(points=outline, width=2, close=True)
            for stroke in art.strokes:
                Color(*theme.WARM)
                Line(points=place(stroke.points), width=3.5, cap="round", joint="round")
                if stroke.arrow:
                    Line(points=place(stroke.arrow), width=3.5, cap="round", joint="round")
            Color(*theme.ACCENT)
            for x, y in art.presses:
                cx, cy = ox + x * side, oy + y * side
                Line(circle=(cx, cy, side * 0.03), width=3)
