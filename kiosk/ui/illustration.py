"""A picture for each step: a foot with the path and direction of the pressure.

The geometry is in `footart` (pure, tested without a window); this widget only draws it with
the Kivy canvas, in the theme's colours, and redraws only when the step, the foot or its own
size changes.
"""

from __future__ import annotations

from kivy.graphics import Color, Ellipse, Mesh
from kivy.graphics.tesselator import TYPE_POLYGONS, WINDING_ODD, Tesselator
from kivy.properties import StringProperty
from kivy.uix.widget import Widget

from . import footart, theme
from .widgets import stroke

FILLS = {
    footart.SKIN: theme.ART_SKIN,
    footart.TOWEL: theme.ART_TOWEL,
    footart.BASIN: theme.ART_BASIN,
    footart.WATER: theme.ART_WATER,
    footart.DROP: theme.ART_DROP,
}
MARKS = {footart.TOWEL: theme.ART_TOWEL_STRIPE}  # lines on a light towel need a darker colour


class Illustration(Widget):
    technique = StringProperty("")  # a routine step's `illustration` name
    foot = StringProperty("left")  # "right" draws the mirror image

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._drawn: tuple | None = None
        self.bind(pos=self._redraw, size=self._redraw, technique=self._redraw, foot=self._redraw)

    def _redraw(self, *_):
        key = (self.technique, self.foot, tuple(self.pos), tuple(self.size))
        if key == self._drawn:
            return
        self._drawn = key
        self.canvas.clear()
        art = footart.drawing(self.technique, mirrored=self.foot == "right")
        # Fit the picture's own extent, not the unit square: a foot is tall and narrow, and
        # fills a tall box far better that way.
        x0, y0, x1, y1 = footart.bounds(art)
        side = min(self.width / max(x1 - x0, 0.05), self.height / max(y1 - y0, 0.05))
        if side < 10:
            return
        ox = self.x + (self.width - side * (x1 - x0)) / 2 - side * x0
        oy = self.y + (self.height - side * (y1 - y0)) / 2 - side * y0
        line_w = max(1.2, side * 0.008)

        def place(points):
            return [v for x, y in points for v in (ox + x * side, oy + y * side)]

        with self.canvas:
            for shape in art.shapes:
                flat = place(shape.points)
                Color(*FILLS.get(shape.kind, theme.ART_SKIN))
                _fill(flat)
                if shape.marks:
                    Color(*MARKS.get(shape.kind, theme.ART_DETAIL))
                    for mark in shape.marks:
                        stroke(points=place(mark), width=line_w * 0.8, cap="round")
                Color(*theme.ART_LINE)
                stroke(points=flat, width=line_w, close=shape.closed)
            Color(*theme.ART_DETAIL)
            for detail in art.details:
                stroke(points=place(detail), width=line_w * 0.8, cap="round")
            Color(*theme.ART_PATH)
            path_w = max(2.0, side * 0.017)
            for path in art.strokes:
                stroke(points=place(path.points), width=path_w, cap="round")
                if path.arrow:
                    stroke(points=place(path.arrow), width=path_w, cap="round")
            r = max(4.0, side * 0.026)
            for x, y in art.presses:
                cx, cy = ox + x * side, oy + y * side
                Color(*theme.ART_PRESS)
                Ellipse(pos=(cx - r, cy - r), size=(2 * r, 2 * r))
                Color(*theme.ART_LINE)
                stroke(circle=(cx, cy, r), width=max(1.0, line_w * 0.7))


POLYGON_MAX = 32  # corners of each convex piece of a fill


def _fill(flat: list[float]) -> None:
    """Fill a polygon of any shape (the arch makes a sole concave; a fan would spill over it).

    Cut into convex pieces of at most POLYGON_MAX corners: Kivy's default (65535) makes the
    tessellator reserve megabytes per shape. The pieces are copied out, so it is freed at once.
    """
    tess = Tesselator()
    tess.add_contour(flat)
    if not tess.tesselate(WINDING_ODD, TYPE_POLYGONS, POLYGON_MAX):
        return
    for vertices, indices in tess.meshes:
        Mesh(vertices=list(vertices), indices=list(indices), mode="triangle_fan")
