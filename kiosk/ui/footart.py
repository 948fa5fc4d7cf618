"""The illustrations as plain geometry in a unit square (0..1, y up). Pure: no Kivy, so every
picture is tested as data and `illustration.py` only draws what is here.

A drawing is filled shapes in order (the foot and its toes, a towel, the basin, water), each
with its own thin marks (toenails, towel stripes), detail lines drawn over them (a fill line),
pressure paths with an arrowhead at the end that shows the direction, and press points.

Feet are drawn as the left foot with the big toe on the right, the way a reflexology chart
shows it (seen from below or from above, the big toe is toward the other foot); the right foot
is the exact mirror image.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

Point = tuple[float, float]
Path = tuple[Point, ...]

# What fills a shape; illustration.py maps each to a theme colour.
SKIN, TOWEL, BASIN, WATER, DROP = "skin", "towel", "basin", "water", "drop"
# Which way the foot is seen.
SOLE, TOP, SIDE, SCENE = "sole", "top", "side", "scene"

ARROW_SIZE = 0.06  # of the picture's side: clear at 200 px
ARROW_SPREAD = 0.55  # radians either side of the path


@dataclass(frozen=True)
class Shape:
    points: Path
    kind: str = SKIN
    closed: bool = True  # False: the outline runs off the picture (a leg), its last edge is not drawn
    marks: tuple[Path, ...] = ()  # thin lines on this shape, hidden by the shapes drawn after it


@dataclass(frozen=True)
class Stroke:
    """A path the pressure follows; `arrow` is a small V whose tip is the path's last point."""

    points: Path
    arrow: Path = ()


@dataclass(frozen=True)
class Drawing:
    shapes: tuple[Shape, ...]
    details: tuple[Path, ...] = ()
    strokes: tuple[Stroke, ...] = ()
    presses: tuple[Point, ...] = ()
    view: str = SOLE

    def all_points(self) -> Iterable[Point]:
        for shape in self.shapes:
            yield from shape.points
            for mark in shape.marks:
                yield from mark
        for line in self.details:
            yield from line
        for stroke in self.strokes:
            yield from stroke.points
            yield from stroke.arrow
        yield from self.presses


def bounds(art: Drawing, margin: float = 0.03) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1): the part of the unit square the drawing uses, with a little room for
    line widths and press points, never outside the square."""
    xs, ys = zip(*art.all_points(), strict=True)
    return (max(0.0, min(xs) - margin), max(0.0, min(ys) - margin),
            min(1.0, max(xs) + margin), min(1.0, max(ys) + margin))


# -- curves --------------------------------------------------------------------------------------

def _r(point: Point) -> Point:
    return round(point[0], 4), round(point[1], 4)


def smooth(points: Iterable[Point], *, closed: bool = True, per_segment: int = 6) -> Path:
    """A Catmull-Rom curve through the control points: a few hand-placed points become an
    organic outline."""
    pts = list(points)
    n = len(pts)
    out: list[Point] = []
    for i in range(n if closed else n - 1):
        if closed:
            p0, p1, p2, p3 = pts[(i - 1) % n], pts[i], pts[(i + 1) % n], pts[(i + 2) % n]
        else:
            p0, p1, p2, p3 = pts[max(i - 1, 0)], pts[i], pts[i + 1], pts[min(i + 2, n - 1)]
        for k in range(per_segment):
            t = k / per_segment
            t2, t3 = t * t, t * t * t
            out.append(_r(tuple(0.5 * (2 * b + (c - a) * t + (2 * a - 5 * b + 4 * c - d) * t2
                                       + (3 * b - a - 3 * c + d) * t3)
                                for a, b, c, d in zip(p0, p1, p2, p3, strict=True))))
    if not closed:
        out.append(_r(pts[-1]))
    return tuple(out)


def ellipse(cx: float, cy: float, rx: float, ry: float, *, tilt_deg: float = 0.0, n: int = 20) -> Path:
    tilt = math.radians(tilt_deg)
    points = []
    for i in range(n):
        a = 2 * math.pi * i / n
        x, y = rx * math.cos(a), ry * math.sin(a)
        points.append(_r((cx + x * math.cos(tilt) - y * math.sin(tilt),
                          cy + x * math.sin(tilt) + y * math.cos(tilt))))
    return tuple(points)


def arc(cx: float, cy: float, r: float, start_deg: float, sweep_deg: float, *, ry: float | None = None,
        n: int = 28) -> Path:
    """Part of a circle (or an ellipse with `ry`); a negative sweep runs clockwise."""
    ry = r if ry is None else ry
    return tuple(_r((cx + r * math.cos(math.radians(start_deg + sweep_deg * i / n)),
                     cy + ry * math.sin(math.radians(start_deg + sweep_deg * i / n))))
                 for i in range(n + 1))


def arrow(points: Path, size: float = ARROW_SIZE) -> Path:
    """A V at the end of a path, opening backwards along its last direction."""
    (x0, y0), (x1, y1) = points[-2], points[-1]
    angle = math.atan2(y1 - y0, x1 - x0)
    left = (x1 - size * math.cos(angle - ARROW_SPREAD), y1 - size * math.sin(angle - ARROW_SPREAD))
    right = (x1 - size * math.cos(angle + ARROW_SPREAD), y1 - size * math.sin(angle + ARROW_SPREAD))
    return _r(left), (x1, y1), _r(right)


def stroke(points: Iterable[Point], size: float = ARROW_SIZE) -> Stroke:
    points = tuple(_r(p) for p in points)
    return Stroke(points, arrow(points, size))


def _move(points: Iterable[Point], scale: float, dx: float, dy: float) -> Path:
    return tuple(_r((x * scale + dx, y * scale + dy)) for x, y in points)


def _flip(points: Iterable[Point]) -> Path:
    return tuple(_r((1 - x, y)) for x, y in points)


def cut(path: Path, level: float, *, keep: str = "below") -> Path:
    """The part of a path below (or above) a level, cut exactly where it crosses it. For an
    outline that runs off the picture (a leg), the cut edge is the picture's edge."""
    inside = (lambda y: y <= level) if keep == "below" else (lambda y: y >= level)
    out: list[Point] = []
    for (x0, y0), (x1, y1) in itertools.pairwise(path):
        if inside(y0):
            out.append((x0, y0))
        if (y0 - level) * (y1 - level) < 0:
            t = (level - y0) / (y1 - y0)
            out.append(_r((x0 + t * (x1 - x0), level)))
    if inside(path[-1][1]):
        out.append(path[-1])
    return tuple(out)


def cropped(art: Drawing, bottom: float = 0.0) -> Drawing:
    """A close-up: everything below `bottom` cut off (an outline left open there, a detail line
    that would cross it left out)."""
    def keep(line: Path) -> bool:
        return all(y >= bottom for _, y in line)

    shapes = tuple(replace(s, points=cut(s.points, bottom, keep="above"), closed=s.closed and keep(s.points),
                           marks=tuple(m for m in s.marks if keep(m)))
                   for s in art.shapes)
    return Drawing(shapes, tuple(d for d in art.details if keep(d)), art.strokes, art.presses, art.view)


def placed(art: Drawing, *, scale: float, dx: float = 0.0, dy: float = 0.0, flip: bool = False) -> Drawing:
    """A drawing scaled about the origin and moved (and mirrored first, if asked)."""
    def move(points):
        return _move(_flip(points) if flip else points, scale, dx, dy)

    return Drawing(tuple(replace(s, points=move(s.points), marks=tuple(move(m) for m in s.marks))
                         for s in art.shapes),
                   tuple(move(d) for d in art.details),
                   tuple(Stroke(move(s.points), move(s.arrow)) for s in art.strokes),
                   move(art.presses), art.view)


def mirror(art: Drawing) -> Drawing:
    """The same picture for the other foot: every point reflected about x = 0.5."""
    return placed(art, scale=1.0, flip=True)


def combine(*parts: Drawing, view: str = SCENE) -> Drawing:
    return Drawing(tuple(s for p in parts for s in p.shapes), tuple(d for p in parts for d in p.details),
                   tuple(s for p in parts for s in p.strokes), tuple(q for p in parts for q in p.presses),
                   view)


# -- the left foot from three sides --------------------------------------------------------------

# Around the sole from the heel, up the outer (little-toe) side on the left, across the base of
# the toes and down the inner side with the arch on the right.
_SOLE = ((0.50, 0.05), (0.405, 0.075), (0.375, 0.16), (0.372, 0.28), (0.36, 0.42), (0.345, 0.55),
         (0.342, 0.65), (0.36, 0.72), (0.41, 0.765), (0.49, 0.79), (0.57, 0.80), (0.64, 0.795),
         (0.675, 0.74), (0.678, 0.65), (0.655, 0.53), (0.608, 0.43), (0.598, 0.33), (0.612, 0.21),
         (0.595, 0.09))
# From above: the same front, and the leg leaving the picture at the bottom.
_TOP = ((0.39, 0.0), (0.39, 0.1), (0.375, 0.2), (0.365, 0.3), (0.355, 0.42), (0.345, 0.55),
        (0.342, 0.65), (0.36, 0.72), (0.41, 0.765), (0.49, 0.79), (0.57, 0.80), (0.64, 0.795),
        (0.675, 0.74), (0.678, 0.65), (0.665, 0.52), (0.645, 0.4), (0.632, 0.29), (0.615, 0.19),
        (0.61, 0.1), (0.61, 0.0))
# From the inner side, toes to the right: the back of the leg, the heel, the sole, the toes,
# the instep and the front of the leg up out of the picture.
_SIDE = ((0.17, 1.0), (0.172, 0.82), (0.158, 0.64), (0.13, 0.47), (0.098, 0.355), (0.1, 0.26),
         (0.15, 0.205), (0.3, 0.19), (0.45, 0.215), (0.62, 0.2), (0.78, 0.19), (0.9, 0.198),
         (0.945, 0.235), (0.915, 0.278), (0.8, 0.295), (0.66, 0.345), (0.53, 0.42), (0.445, 0.515),
         (0.405, 0.64), (0.392, 0.8), (0.39, 1.0))
# (centre x, centre y, half width, half height, tilt) from the big toe to the little toe.
_TOES = ((0.618, 0.848, 0.05, 0.068, -6), (0.528, 0.858, 0.033, 0.046, 0),
         (0.462, 0.84, 0.03, 0.041, 6), (0.405, 0.81, 0.028, 0.037, 14), (0.357, 0.766, 0.025, 0.032, 24))


def _toes(nails: bool) -> tuple[Shape, ...]:
    def nail(cx, cy, rx, ry, t):
        ring = ellipse(cx, cy + ry * 0.35, rx * 0.55, ry * 0.42, tilt_deg=t, n=14)
        return (ring + ring[:1],) if nails else ()

    return tuple(Shape(ellipse(cx, cy, rx, ry, tilt_deg=t), marks=nail(cx, cy, rx, ry, t))
                 for cx, cy, rx, ry, t in _TOES)


def sole() -> Drawing:
    crease = smooth(((0.40, 0.72), (0.50, 0.745), (0.62, 0.745)), closed=False)
    return Drawing((Shape(smooth(_SOLE), marks=(crease,)), *_toes(nails=False)), view=SOLE)


def top() -> Drawing:
    ankles = (arc(0.375, 0.2, 0.03, 60, 240, n=12), arc(0.625, 0.24, 0.03, 120, -240, n=12))
    leg = Shape(smooth(_TOP, closed=False), closed=False, marks=ankles)
    return Drawing((leg, *_toes(nails=True)), view=TOP)


def side() -> Drawing:
    ankle = arc(0.29, 0.47, 0.035, 200, -220, n=12)  # the ankle bone's bump
    nail = smooth(((0.88, 0.272), (0.91, 0.268), (0.93, 0.255)), closed=False)
    return Drawing((Shape(smooth(_SIDE, closed=False), closed=False, marks=(ankle, nail)),), view=SIDE)


def _with(base: Drawing, *, strokes=(), presses=(), details=()) -> Drawing:
    return Drawing(base.shapes, base.details + tuple(details), tuple(strokes), tuple(presses), base.view)


# -- the massage steps ---------------------------------------------------------------------------

def _thumb_walk() -> Drawing:
    """Thumb tips walk in tiny bites from the heel up to the toes: a row of small humps."""
    stops = [(0.50 + 0.006 * i, 0.15 + 0.095 * i) for i in range(6)]
    path: list[Point] = [stops[0]]
    for (x0, y0), (x1, y1) in itertools.pairwise(stops):
        cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, math.hypot(x1 - x0, y1 - y0) / 2
        start = math.degrees(math.atan2(y0 - cy, x0 - cx))
        path += arc(cx, cy, r, start, -180, n=8)[1:]  # clockwise from below: a hump to the left
    path.append((0.535, 0.735))
    return _with(sole(), strokes=[stroke(path)], presses=stops)


def _top_strokes() -> Drawing:
    """Up from the toes to the ankle on one side, back down on the other."""
    up = smooth(((0.45, 0.73), (0.44, 0.56), (0.445, 0.38), (0.46, 0.2)), closed=False)
    down = smooth(((0.55, 0.2), (0.565, 0.38), (0.575, 0.56), (0.565, 0.73)), closed=False)
    return _with(top(), strokes=[stroke(up), stroke(down)])


def _circling(cx: float, cy: float, outer: float, inner: float) -> list[Stroke]:
    """Clockwise round the outside, then anticlockwise inside: 'each way'."""
    return [stroke(arc(cx, cy, outer, 110, -300)), stroke(arc(cx, cy, inner, 250, 300, n=22))]


def _heel_rotation() -> Drawing:
    """The heel held (cupped) while the foot circles both ways."""
    return _with(side(), strokes=_circling(0.72, 0.32, 0.2, 0.11), presses=[(0.16, 0.3), (0.24, 0.24)])


def _ankle_circles() -> Drawing:
    """The heel rests on the towel and the foot circles at the ankle."""
    towel = ((0.05, 0.17), (0.95, 0.17))
    return _with(side(), strokes=_circling(0.74, 0.38, 0.19, 0.1), presses=[(0.19, 0.24)],
                 details=[towel])


def _toe_rotation() -> Drawing:
    """One toe at a time, circled, starting with the big toe: a close-up of the front of the
    foot, where the toes are big enough to see."""
    scale, dy = 1.7, -0.62
    front = cropped(placed(top(), scale=scale, dx=0.5 - 0.51 * scale, dy=dy))
    cx, cy = _TOES[0][0] * scale + 0.5 - 0.51 * scale, _TOES[0][1] * scale + dy
    return _with(front, strokes=[stroke(arc(cx, cy, 0.15, 210, -300))], presses=[(cx, cy)])


def _arch_press() -> Drawing:
    """Slow presses along the arch, moving a little each time."""
    stops = [(0.555, 0.25 + 0.095 * i) for i in range(4)]
    path = smooth(((0.51, 0.21), (0.505, 0.36), (0.515, 0.5), (0.53, 0.62)), closed=False)
    return _with(sole(), strokes=[stroke(path)], presses=stops)


def _sole_thumb_roll() -> Drawing:
    """Small circles across the ball of the foot, from the base of the big toe outward."""
    (x0, y0), (x1, y1), loops, r = (0.62, 0.69), (0.39, 0.64), 3, 0.045
    n = 14 * loops
    path = [(x0 + (x1 - x0) * i / n + r * math.sin(2 * math.pi * loops * i / n),
             y0 + (y1 - y0) * i / n + r * (1 - math.cos(2 * math.pi * loops * i / n)) - r)
            for i in range(n + 1)]
    return _with(sole(), strokes=[stroke(path)], presses=[(x0, y0)])


def _sole_knead() -> Drawing:
    """Back and forth across the sole, working from the heel up to the ball."""
    zig = [(0.44 if i % 2 else 0.56, 0.13 + 0.075 * i) for i in range(8)]
    return _with(sole(), strokes=[stroke(smooth(zig, closed=False, per_segment=5))])


def _knuckle_knead() -> Drawing:
    """Knuckles pressing and turning at the heel, the middle and the ball of the foot."""
    spots = ((0.5, 0.17), (0.49, 0.4), (0.51, 0.63))
    return _with(sole(), strokes=[stroke(arc(x, y, 0.075, 120, -290, n=20), size=0.05) for x, y in spots],
                 presses=spots)


# -- the prompts -----------------------------------------------------------------------------------

def _towel(x0=0.05, y0=0.06, x1=0.95, y1=0.74) -> Drawing:
    corners = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
    stripes = tuple(((x0 + 0.03, y), (x1 - 0.03, y)) for y in (y0 + 0.06, y0 + 0.09, y1 - 0.09, y1 - 0.06))
    return Drawing((Shape(_rounded(corners, 0.04), TOWEL, marks=stripes),))


def _rounded(corners, radius: float) -> Path:
    """A rectangle with round corners, from its four corners (counter-clockwise from bottom left)."""
    (x0, y0), _, (x1, y1), _ = corners
    points: list[Point] = []
    for cx, cy, start in ((x1 - radius, y0 + radius, -90), (x1 - radius, y1 - radius, 0),
                          (x0 + radius, y1 - radius, 90), (x0 + radius, y0 + radius, 180)):
        points += arc(cx, cy, radius, start, 90, n=5)
    return tuple(points)


def _pair(scale: float) -> Drawing:
    """Both feet from above, left and right, as the customer sees them looking down."""
    left = placed(top(), scale=scale, dx=0.28 - 0.5 * scale)
    right = placed(top(), scale=scale, dx=0.72 - 0.5 * scale, flip=True)
    return combine(left, right)


def _drop(cx: float, cy: float, r: float) -> Shape:
    """A water or oil drop: round below, pointed above."""
    body = arc(cx, cy, r, 65, -310, n=16)
    return Shape((*body, (cx, cy + 2.3 * r)), DROP)


def _dry() -> Drawing:
    """Feet on the towel, patted dry (the drops going)."""
    towel = _towel(y1=0.8)
    feet = _pair(scale=0.8)
    drops = Drawing((_drop(0.5, 0.5, 0.035), _drop(0.44, 0.63, 0.025), _drop(0.56, 0.68, 0.022)))
    return combine(towel, feet, drops)


def _oil() -> Drawing:
    """A drop of oil, smoothed over the top of the foot."""
    foot = placed(top(), scale=0.92, dx=-0.06, dy=0.0)
    smooth_on = smooth(((0.41, 0.68), (0.47, 0.55), (0.4, 0.42), (0.46, 0.29), (0.42, 0.16)), closed=False)
    return combine(foot, Drawing((_drop(0.8, 0.66, 0.06),), strokes=(stroke(smooth_on),)), view=TOP)


WATER_LEVEL = 0.44


def _basin() -> tuple[Drawing, Drawing]:
    """The basin in section, and the warm water in it (drawn after whatever goes in it)."""
    rim_y = 0.62
    wall = smooth(((0.06, rim_y), (0.12, 0.3), (0.22, 0.1), (0.5, 0.07), (0.78, 0.1), (0.88, 0.3),
                   (0.94, rim_y)), closed=False)
    water = cut(wall, WATER_LEVEL)
    x0, x1 = water[0][0], water[-1][0]
    waves = tuple(_r((x, WATER_LEVEL + 0.012 * math.sin((x - x0) * 40)))
                  for x in (x1 - (x1 - x0) * i / 24 for i in range(1, 24)))
    rim = ((0.04, rim_y), (0.96, rim_y))
    return (Drawing((Shape((*wall, (0.94, rim_y + 0.03), (0.06, rim_y + 0.03)), BASIN, marks=(rim,)),)),
            Drawing((Shape(water + waves, WATER),)))


def _fill() -> Drawing:
    """Warm water poured in up to the line."""
    pour = ((0.5, 0.97), (0.5, 0.78), (0.5, 0.5))
    line = ((0.14, 0.5), (0.86, 0.5))
    return combine(*_basin(), Drawing((), (line,), (stroke(pour),)))


def _feet_in() -> Drawing:
    """A foot going down into the warm water (seen through it)."""
    basin, water = _basin()
    foot = placed(side(), scale=0.86, dx=0.06, dy=0.14)  # the leg leaves the top of the picture
    down = ((0.78, 0.95), (0.78, 0.66))
    return combine(basin, foot, water, Drawing((), (), (stroke(down),)))


def _rest() -> Drawing:
    """Both feet resting on the towel."""
    return combine(_towel(y1=0.8), _pair(scale=0.8))


_DRAWINGS = {
    "thumb_walk": _thumb_walk,
    "top_strokes": _top_strokes,
    "heel_rotation": _heel_rotation,
    "ankle_circles": _ankle_circles,
    "toe_rotation": _toe_rotation,
    "arch_press": _arch_press,
    "sole_thumb_roll": _sole_thumb_roll,
    "sole_knead": _sole_knead,
    "knuckle_knead": _knuckle_knead,
    "dry": _dry,
    "oil": _oil,
    "fill": _fill,
    "feet_in": _feet_in,
    "rest": _rest,
}
NAMES = tuple(_DRAWINGS)


def drawing(technique: str, *, mirrored: bool = False) -> Drawing:
    """The picture for a routine step's `illustration` (a plain sole for anything unknown),
    mirrored for the right foot."""
    art = _DRAWINGS.get(technique, sole)()
    return mirror(art) if mirrored else art
