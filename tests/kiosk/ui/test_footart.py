"""The step illustrations as geometry (no window): every step a routine can name has a picture,
the picture stays in its square, its outlines are clean, the pressure paths end in arrows that
point the way the instructions say, press points sit on the foot, and the right foot is the
mirror image of the left."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.ui import footart
from routines import load_library
from routines.model import ILLUSTRATIONS

SHIPPED = [entry.routine for entry in load_library(None)]
NAMES = sorted(set(footart.NAMES) | set(ILLUSTRATIONS))
PROMPTS = {"dry", "oil", "fill", "feet_in", "rest"}  # pictures of what to do, not of a pressure
TECHNIQUES = sorted(set(NAMES) - PROMPTS)
FEET = (False, True)  # mirrored: the left foot, then the right


def signed_area(points) -> float:
    """Shoelace: positive when the points run anticlockwise (y up)."""
    edges = zip(points, points[1:] + points[:1], strict=True)
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in edges) / 2


def inside(point, polygon) -> bool:
    """Even-odd ray casting; an open outline counts as closed along its missing edge."""
    x, y = point
    hit = False
    for (x0, y0), (x1, y1) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            hit = not hit
    return hit


def crosses(a, b, c, d) -> bool:
    """Whether segments ab and cd properly cross (touching ends do not count)."""
    def side(p, q, r):
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    return side(a, b, c) * side(a, b, d) < 0 and side(c, d, a) * side(c, d, b) < 0


# -- every step has a picture ------------------------------------------------------------------

def test_every_illustration_a_routine_may_name_has_its_own_drawing():
    assert set(ILLUSTRATIONS) <= set(footart.NAMES), set(ILLUSTRATIONS) - set(footart.NAMES)
    plain = footart.drawing("no such picture")
    for name in ILLUSTRATIONS:
        assert footart.drawing(name) != plain, f"{name} falls back to the plain sole"


def test_every_shipped_step_names_a_drawing():
    used = {step.illustration for routine in SHIPPED for step in routine.steps}
    assert None not in used, "a shipped step has no illustration"
    assert used <= set(footart.NAMES)
    assert {"dry", "oil", "rest"} <= used  # the prompts are drawn as well as the techniques


def test_an_unknown_name_gets_a_plain_foot_rather_than_nothing():
    art = footart.drawing("")
    assert art.view == footart.SOLE and art.shapes and not art.strokes


# -- the picture is well formed ---------------------------------------------------------------

@pytest.mark.parametrize("mirrored", FEET, ids=["left", "right"])
@pytest.mark.parametrize("name", NAMES)
def test_every_point_is_inside_the_unit_square(name, mirrored):
    art = footart.drawing(name, mirrored=mirrored)
    points = list(art.all_points())
    assert points
    outside = [p for p in points if not (0.0 <= p[0] <= 1.0 and 0.0 <= p[1] <= 1.0)]
    assert not outside, f"{name}: {outside[:5]}"
    x0, y0, x1, y1 = footart.bounds(art)
    assert 0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0
    assert all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in points)


@pytest.mark.parametrize("name", NAMES)
def test_outlines_are_clean_shapes_that_never_cross_themselves(name):
    for shape in footart.drawing(name).shapes:
        points = list(shape.points)
        assert len(points) >= 3 and abs(signed_area(points)) > 1e-4, f"{name}: a {shape.kind} with no area"
        edges = list(zip(points, points[1:] + points[:1], strict=True))
        for (i, e), (j, f) in itertools.combinations(enumerate(edges), 2):
            if j - i > 1 and not (i == 0 and j == len(edges) - 1):
                assert not crosses(*e, *f), f"{name}: a {shape.kind} outline crosses itself at edges {i}, {j}"


@pytest.mark.parametrize("name", TECHNIQUES)
def test_each_technique_shows_where_to_press(name):
    art = footart.drawing(name)
    assert art.view in (footart.SOLE, footart.TOP, footart.SIDE)
    assert art.strokes or art.presses, f"{name} shows a foot but no pressure"


# -- arrows and directions ---------------------------------------------------------------------

@pytest.mark.parametrize("mirrored", FEET, ids=["left", "right"])
@pytest.mark.parametrize("name", NAMES)
def test_every_path_ends_in_an_arrowhead_pointing_along_it(name, mirrored):
    for stroke in footart.drawing(name, mirrored=mirrored).strokes:
        assert len(stroke.points) >= 2 and len(stroke.arrow) == 3
        left, tip, right = stroke.arrow
        assert tip == stroke.points[-1], f"{name}: the arrow is not at the end of its path"
        (xa, ya), (xb, yb) = stroke.points[-2], stroke.points[-1]
        heading = math.atan2(yb - ya, xb - xa)
        for wing in (left, right):
            back = (wing[0] - tip[0], wing[1] - tip[1])
            assert math.hypot(*back) == pytest.approx(footart.ARROW_SIZE, abs=0.012)
            along = back[0] * math.cos(heading) + back[1] * math.sin(heading)
            assert along < 0, f"{name}: an arrow wing points forward, so the arrow points backward"
        assert signed_area([left, tip, right]) != 0, f"{name}: a flat arrowhead"


def rises(stroke) -> float:
    return stroke.points[-1][1] - stroke.points[0][1]


def test_the_paths_run_the_way_the_instructions_say():
    # Thumb walking, sole kneading and the arch presses work from the heel up toward the toes.
    for name in ("thumb_walk", "sole_knead", "arch_press"):
        (stroke,) = footart.drawing(name).strokes
        assert rises(stroke) > 0.3, name
    # Top of the foot: toes up to the ankle (down the picture, the leg is at the bottom), and back.
    up, down = footart.drawing("top_strokes").strokes
    assert rises(up) < -0.3 and rises(down) > 0.3
    # Sole thumb rolling starts at the big toe (on the right of a left sole) and rolls outward.
    (roll,) = footart.drawing("sole_thumb_roll").strokes
    assert roll.points[0][0] > 0.55 > roll.points[-1][0]
    # Circles both ways: clockwise round the outside, then anticlockwise.
    for name in ("heel_rotation", "ankle_circles"):
        turns = [math.copysign(1, signed_area(list(s.points))) for s in footart.drawing(name).strokes]
        assert sorted(turns) == [-1, 1], name


def test_the_big_toe_is_on_the_inner_side_and_the_toes_above_the_heel():
    for name in ("thumb_walk", "top_strokes", "arch_press"):
        for mirrored in FEET:
            art = footart.drawing(name, mirrored=mirrored)
            body, *toes = [s for s in art.shapes if s.kind == footart.SKIN]
            big = max(toes, key=lambda s: abs(signed_area(list(s.points))))
            big_x = sum(x for x, _ in big.points) / len(big.points)
            body_x = sum(x for x, _ in body.points) / len(body.points)
            assert (big_x > body_x) != mirrored, f"{name}: the big toe is on the outer side"
            assert min(y for _, y in big.points) > max(y for _, y in body.points) - 0.1


@pytest.mark.parametrize("name", TECHNIQUES)
def test_press_points_sit_on_the_foot(name):
    art = footart.drawing(name)
    skin = [list(s.points) for s in art.shapes if s.kind == footart.SKIN]
    for point in art.presses:
        assert any(inside(point, outline) for outline in skin), f"{name}: a press point off the foot {point}"


# -- the right foot ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [*NAMES, "unknown"])
def test_the_right_foot_is_the_mirror_image_of_the_left(name):
    left, right = footart.drawing(name), footart.drawing(name, mirrored=True)
    assert right.view == left.view
    assert [(s.kind, s.closed, len(s.points), len(s.marks)) for s in right.shapes] == \
        [(s.kind, s.closed, len(s.points), len(s.marks)) for s in left.shapes]
    pairs = list(zip(left.all_points(), right.all_points(), strict=True))
    assert pairs
    for (xl, yl), (xr, yr) in pairs:
        assert xr == pytest.approx(1 - xl, abs=1e-3) and yr == pytest.approx(yl, abs=1e-3)
    asymmetric = [p for p, q in pairs if abs(p[0] - 0.5) > 0.02]
    assert asymmetric, "a picture symmetric about the middle cannot show which foot"


# -- the curve tools -------------------------------------------------------------------------------

def test_a_smooth_outline_passes_through_its_control_points():
    control = [(0.2, 0.2), (0.8, 0.25), (0.7, 0.8), (0.3, 0.7)]
    closed = footart.smooth(control, per_segment=5)
    assert len(closed) == 20 and [closed[5 * i] for i in range(4)] == control
    open_ = footart.smooth(control, closed=False, per_segment=5)
    assert open_[0] == control[0] and open_[-1] == control[-1] and len(open_) == 16


coordinates = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(coordinates, coordinates), min_size=2, max_size=30), coordinates)
def test_cutting_a_path_keeps_exactly_the_part_on_one_side(path, level):
    path = tuple(path)
    below = footart.cut(path, level)
    above = footart.cut(path, level, keep="above")
    assert all(y <= level + 1e-4 for _, y in below) and all(y >= level - 1e-4 for _, y in above)
    kept = [p for p in path if p[1] <= level]
    assert all(p in below for p in kept)
    crossings = sum((y0 - level) * (y1 - level) < 0 for (_, y0), (_, y1) in itertools.pairwise(path))
    assert len(below) == len([p for p in path if p[1] <= level]) + crossings
