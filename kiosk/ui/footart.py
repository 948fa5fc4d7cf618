"""Foot drawings as plain geometry, in a unit square (0..1, y up): an outline, pressure paths
with arrowheads, and press points. Pure: no Kivy, so the pictures are tested as data."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Stroke:
    points: tuple[tuple[float, float], ...]
    arrow: tuple[tuple[float, float], ...] = ()  # a small V at the end: the direction


@dataclass(frozen=True)
class Drawing:
    outline: tuple[tuple[float, float], ...]
    strokes: tuple[Stroke, ...] = ()
    presses: tuple[tuple[float, float], ...] = ()


def _sole(n: int = 48) -> tuple[tuple[float, float], ...]:
    """A left sole seen from below: heel at the bottom, toes at the top, arch on the right."""
    points = []
    for i in range(n):
        t = 2 * math.pi * i / n
        y = 0.5 + 0.42 * math.sin(t)
        width = 0.16 + 0.07 * (y - 0.08) / 0.84  # wider at the ball of the foot than at the heel
        inner = 0.03 if 0.3 < y < 0.6 and math.cos(t) > 0 else 0.0  # the arch's curve
        points.append((0.5 + (width - inner) * math.cos(t), y))
    return tuple(points)


def arrow(points, size: float = 0.05) -> tuple[tuple[float, float], ...]:
    (x0, y0), (x1, y1) = points[-2], points[-1]
    angle = math.atan2(y1 - y0, x1 - x0)
    left = (x1 - size * math.cos(angle - 0.5), y1 - size * math.sin(angle - 0.5))
    right = (x1 - size * math.cos(angle + 0.5), y1 - size * math.sin(angle + 0.5))
    return (left, (x1, y1), right)


def _stroke(points) -> Stroke:
    points = tuple(points)
    return Stroke(points, arrow(points))


def drawing(technique: str, *, mirrored: bool = False) -> Drawing:
    art = _DRAWINGS.get(technique, _plain)()
    if not mirrored:
        return art

    def flip(points):
        return tuple((1 - x, y) for x, y in points)

    return Drawing(flip(art.outline),
                   tuple(Stroke(flip(s.points), flip(s.arrow)) for s in art.strokes),
                   flip(art.presses))


def _plain() -> Drawing:
    return Drawing(_sole())


def _thumb_walk() -> Drawing:
    steps = [(0.5, 0.15 + 0.1 * i) for i in range(7)]
    return Drawing(_sole(), (_stroke(steps),), tuple(steps[:-1]))


def _top_strokes() -> Drawing:
    return Drawing(_sole(), (_stroke([(0.45, 0.85), (0.45, 0.2)]), _stroke([(0.55, 0.2), (0.55, 0.85)])))


def _circle(cx, cy, r, turns=0.85, n=24, clockwise=True) -> Stroke:
    sign = -1 if clockwise else 1
    return _stroke((cx + r * math.cos(sign * 2 * math.pi * turns * i / n),
                    cy + r * math.sin(sign * 2 * math.pi * turns * i / n)) for i in range(n + 1))


def _heel_rotation() -> Drawing:
    return Drawing(_sole(), (_circle(0.5, 0.6, 0.2), _circle(0.5, 0.6, 0.12, clockwise=False)))


def _toe_rotation() -> Drawing:
    return Drawing(_sole(), (_circle(0.42, 0.86, 0.05),), ((0.42, 0.86),))


def _arch_press() -> Drawing:
    points = ((0.58, 0.35), (0.6, 0.45), (0.6, 0.55))
    return Drawing(_sole(), (), points)


def _sole_thumb_roll() -> Drawing:
    return Drawing(_sole(), (_stroke([(0.4, 0.78), (0.5, 0.74), (0.6, 0.72)]),),
                   ((0.4, 0.78),))


def _knead(rows: int = 3) -> Drawing:
    strokes = tuple(_stroke([(0.4, y), (0.6, y + 0.03), (0.4, y + 0.06)]) for y in
                    (0.25 + 0.18 * i for i in range(rows)))
    return Drawing(_sole(), strokes)


_DRAWINGS = {
    "thumb_walk": _thumb_walk,
    "top_strokes": _top_strokes,
    "heel_rotation": _heel_rotation,
    "ankle_circles": _heel_rotation,
    "toe_rotation": _toe_rotation,
    "arch_press": _arch_press,
    "sole_thumb_roll": _sole_thumb_roll,
    "sole_knead": _knead,
    "knuckle_knead": _knead,
}
