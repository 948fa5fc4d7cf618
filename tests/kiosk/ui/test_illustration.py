"""A step's illustration is painted once into a picture and shown as one textured rectangle:
the software renderer keeps every draw of the last frame, and a step screen redraws sixty
times a second while its ring paces the reps."""

from __future__ import annotations

import pytest

from kiosk.ui import theme

BOX = (210, 260)  # about a step screen's


@pytest.fixture
def gl(window):
    """Kivy's window, opened in this process: painting needs its GL context."""
    from kivy.core.window import Window

    return Window


def rgba(colour) -> tuple[int, ...]:
    return tuple(round(c * 255) for c in colour)


def pixels(texture) -> list[tuple[int, ...]]:
    data = texture.pixels
    return [tuple(data[i:i + 4]) for i in range(0, len(data), 4)]


def near(pixel, colour, tolerance=6) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


def test_a_picture_shows_the_path_of_the_pressure_and_only_a_step_with_one(gl):
    from kiosk.ui.illustration import paint

    path = rgba(theme.ART_PATH)
    walk = paint("thumb_walk", mirrored=False, box=BOX)
    plain = paint("no_such_technique", mirrored=False, box=BOX)  # a plain sole
    assert walk.size[0] <= BOX[0] and walk.size[1] <= BOX[1]
    assert max(walk.size[0] / BOX[0], walk.size[1] / BOX[1]) > 0.97  # as large as fits
    assert sum(near(p, path) for p in pixels(walk)) > 500
    assert sum(near(p, path) for p in pixels(plain)) == 0
    # Painted on the screen's background, and opaque even where the water shows through.
    assert all(p[3] == 255 for p in pixels(paint("fill", mirrored=False, box=BOX)))
    assert near(pixels(plain)[0], rgba(theme.BACKGROUND))


def test_the_right_foot_is_the_mirror_image_of_the_left(gl):
    from kiosk.ui.illustration import paint

    left = paint("toe_rotation", mirrored=False, box=BOX)
    right = paint("toe_rotation", mirrored=True, box=BOX)
    assert left.size == right.size
    w, h = left.size
    a, b = pixels(left), pixels(right)

    def alike(shift):  # the right foot flipped back, moved `shift` px
        flipped = [b[y * w + min(w - 1, max(0, w - 1 - x + shift))] for y in range(h) for x in range(w)]
        return sum(near(p, q, 24) for p, q in zip(a, flipped, strict=True)) / len(a)

    assert max(alike(shift) for shift in (-1, 0, 1)) > 0.98  # rounding may place it a pixel apart
    assert a != b  # and it is not symmetric to begin with


def test_too_small_a_box_paints_nothing(gl):
    from kiosk.ui.illustration import paint

    assert paint("thumb_walk", mirrored=False, box=(5, 5)) is None


def test_the_widget_shows_one_picture_centred_and_paints_again_only_for_a_new_one(gl):
    from kivy.clock import Clock
    from kivy.graphics import Rectangle

    from kiosk.ui.illustration import Illustration

    art = Illustration(technique="thumb_walk", size_hint=(None, None), pos=(30, 40))
    gl.add_widget(art)
    try:
        art.size = (100, 100)  # a layout's provisional size first: never painted
        art.size = BOX
        assert not art.canvas.children
        Clock.tick_draw()  # just before the next frame
        drawn = art.canvas.children
        pictures = [i for i in drawn if isinstance(i, Rectangle)]
        assert len(pictures) == 1 and len(drawn) <= 3  # a colour, the picture (and Kivy's bind)
        picture = pictures[0]
        w, h = picture.size
        assert picture.pos == (round(30 + (BOX[0] - w) / 2), round(40 + (BOX[1] - h) / 2))
        texture = picture.texture

        art.pos = (100, 50)  # moved: the same picture, moved with it
        assert picture.texture is texture
        assert picture.pos == (round(100 + (BOX[0] - w) / 2), round(50 + (BOX[1] - h) / 2))

        art.foot = "right"
        Clock.tick_draw()
        assert next(i for i in art.canvas.children if isinstance(i, Rectangle)).texture is not texture
    finally:
        gl.remove_widget(art)


@pytest.mark.parametrize("name", ["ART_LINE", "ART_DETAIL", "ART_PATH", "ART_TOWEL_STRIPE"])
def test_the_colours_of_lines_are_opaque(name):
    # Kivy draws a see-through line wider than 1 px through a stencil; the buffer the pictures
    # are painted in has none, and such a line would fill its whole bounding box.
    assert getattr(theme, name)[3] == 1


def test_every_picture_at_the_size_its_screen_gives_it_fits_the_easel_made_once(kiosk):
    # A second buffer would cost its own shader program for good (Kivy keeps it after the Fbo).
    from kiosk.ui import footart
    from kiosk.ui.illustration import EASEL, Illustration, placed
    from tests.kiosk.ui.drive import api

    k, boxes = kiosk, set()

    def shown(screen):
        k.step()
        k.settle()
        k.wait_screen(screen)
        boxes.update((int(art.width), int(art.height)) for art in k.app.manager.current_screen.walk()
                     if isinstance(art, Illustration))

    api(k, "start", routine="classic")
    shown("fill")
    api(k, "confirm")
    k.run_until(lambda s: s["phase"] == "ready", what="the water at its target")
    shown("ready")
    api(k, "confirm")
    api(k, "next")
    shown("step")
    assert len(boxes) == 2  # beside the words (fill, ready) and on a step
    for box in boxes:
        for name in footart.NAMES:
            for mirrored in (False, True):
                *_, (w, h) = placed(footart.drawing(name, mirrored=mirrored), box)
                assert w <= EASEL[0] and h <= EASEL[1], (name, box)
