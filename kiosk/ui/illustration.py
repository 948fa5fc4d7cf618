"""A picture for each step: a foot with the path and direction of the pressure.

The geometry is in `footart` (pure, tested without a window). It is drawn once, with the Kivy
canvas in the theme's colours, into a picture the widget then shows: one textured rectangle a
frame instead of some sixty draws. That matters on a step screen, redrawn thirty times a second
while its ring paces the reps; the software renderer keeps every draw of the last frame.
A new picture is painted only when the step, the foot or the widget's size changes.
"""

from __future__ import annotations

import math

from kivy.graphics import ClearBuffers, ClearColor, Color, Ellipse, Fbo, Mesh, Rectangle
from kivy.graphics.opengl import GL_RGBA, GL_UNSIGNED_BYTE, glReadPixels
from kivy.graphics.tesselator import TYPE_POLYGONS, WINDING_ODD, Tesselator
from kivy.graphics.texture import Texture
from kivy.properties import StringProperty
from kivy.uix.widget import Widget

from . import footart, theme
from .widgets import before_next_frame, stroke

FILLS = {
    footart.SKIN: theme.ART_SKIN,
    footart.TOWEL: theme.ART_TOWEL,
    footart.BASIN: theme.ART_BASIN,
    footart.WATER: theme.ART_WATER,
    footart.DROP: theme.ART_DROP,
}
MARKS = {footart.TOWEL: theme.ART_TOWEL_STRIPE}  # lines on a light towel need a darker colour
SMALLEST = 10  # px per unit of the drawing below which nothing is drawn
EASEL = (theme.PICTURE, theme.PICTURE * 3 // 2)  # px: room for the largest picture a screen shows


class Illustration(Widget):
    technique = StringProperty("")  # a routine step's `illustration` name
    foot = StringProperty("left")  # "right" draws the mirror image

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._painted: tuple | None = None
        self._picture: Rectangle | None = None
        self._repaint_soon = before_next_frame(self._repaint)
        self.bind(pos=self._place, size=self._repaint_soon, technique=self._repaint_soon,
                  foot=self._repaint_soon)

    def _repaint(self, *_):
        key = (self.technique, self.foot, int(self.width), int(self.height))
        if key != self._painted:
            self._painted = key
            self.canvas.clear()
            self._picture = None
            texture = paint(self.technique, mirrored=self.foot == "right", box=key[2:])
            if texture is not None:
                with self.canvas:
                    Color(1, 1, 1, 1)
                    self._picture = Rectangle(texture=texture, size=texture.size)
        self._place()

    def _place(self, *_):
        if self._picture is not None:  # centred, on whole pixels: the picture is shown 1:1
            # From x and width, not center_x: called on a size change, before Kivy updates that.
            w, h = self._picture.size
            self._picture.pos = (round(self.x + (self.width - w) / 2), round(self.y + (self.height - h) / 2))


def placed(art: footart.Drawing,
           box: tuple[int, int]) -> tuple[float, tuple[float, float], tuple[int, int]] | None:
    """How `art` is painted to fit `box` (px): px per unit of the drawing, where its (0, 0)
    goes and the picture's size, cropped to the drawing's own extent; None when that is too
    small to be worth it."""
    # Fit the picture's own extent, not the unit square: a foot is tall and narrow, and
    # fills a tall box far better that way.
    x0, y0, x1, y1 = footart.bounds(art)
    side = min(box[0] / max(x1 - x0, 0.05), box[1] / max(y1 - y0, 0.05))
    if side < SMALLEST:
        return None
    size = (min(box[0], math.ceil(side * (x1 - x0))), min(box[1], math.ceil(side * (y1 - y0))))
    return side, (-side * x0, -side * y0), size


def paint(technique: str, *, mirrored: bool, box: tuple[int, int]) -> Texture | None:
    """The drawing as large as fits `box` (px), cropped to its own extent, on the screen's
    background; None when that is too small to be worth drawing."""
    art = footart.drawing(technique, mirrored=mirrored)
    fitted = placed(art, box)
    if fitted is None:
        return None
    side, origin, size = fitted
    easel = _easel(size)
    easel.clear()
    with easel:
        # Opaque, in the colour the picture sits on: the water's see-through fill blends with
        # what is under it as it would on screen, which a transparent picture would not.
        ClearColor(*theme.BACKGROUND)
        ClearBuffers()
        _draw(art, side, origin=origin)
    easel.draw()
    easel.bind()
    try:
        pixels = glReadPixels(0, 0, size[0], size[1], GL_RGBA, GL_UNSIGNED_BYTE)
    finally:
        easel.release()
    easel.clear()  # the drawing's instructions are not needed any more
    # Opaque throughout: where the water's fill blended in, the buffer's alpha fell below 1.
    opaque = bytearray(pixels)
    opaque[3::4] = b"\xff" * (size[0] * size[1])
    texture = Texture.create(size=size, colorfmt="rgba")
    texture.blit_buffer(opaque, colorfmt="rgba", bufferfmt="ubyte")
    return texture


_shared_easel: Fbo | None = None


def _easel(size: tuple[int, int]) -> Fbo:
    """One off-screen buffer for every picture, made once large enough for the screens' (and
    grown only for a larger one): each Kivy Fbo compiles a shader program of its own, which
    the renderer keeps (about 1 MB), even after the Fbo has gone."""
    global _shared_easel
    have = _shared_easel.size if _shared_easel is not None else EASEL
    if _shared_easel is None or size[0] > have[0] or size[1] > have[1]:
        _shared_easel = Fbo(size=(max(size[0], have[0]), max(size[1], have[1])))
    return _shared_easel


def _draw(art: footart.Drawing, side: float, *, origin: tuple[float, float]) -> None:
    """Kivy instructions for `art` at `side` px per unit, into the canvas being built."""
    ox, oy = origin
    line_w = max(1.2, side * 0.008)

    def place(points):
        return [v for x, y in points for v in (ox + x * side, oy + y * side)]

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
