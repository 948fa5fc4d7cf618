"""Text on the kiosk: fitted text takes the largest type that shows every word in its box, from its
own size down the theme's type scale (predicted from one reference type, so that it opens no
font it does not show: the size a size-by-size search finds, or a step below it, and never one
that clips), a drawn text keeps its texture only, not a second copy of its pixels, and that
texture is only as tall as the words."""

from __future__ import annotations

import pytest

WORDS = [
    "Ready",
    "12:34",
    "Hold your foot with both hands. Press with the tips of your thumbs and walk them in tiny "
    "steps along the sole, from the heel up to the toes.",
    "Eine sehr lange Anweisung für die Fußmassage, die in einer schmalen Spalte umbrechen muss, "
    "damit jedes Wort sichtbar bleibt.",
]
BOXES = [(600, 60), (300, 120), (220, 200), (120, 40)]


@pytest.fixture(scope="module")
def fitting(window):
    from kiosk.ui.widgets import fitting_size, text_size

    return fitting_size, text_size


def candidates(largest: int, smallest: int) -> list[int]:
    from kiosk.ui import theme

    return [largest, *(s for s in theme.TYPE_SCALE if smallest < s < largest), smallest]


@pytest.mark.parametrize("text", WORDS)
@pytest.mark.parametrize("box", BOXES)
def test_the_size_fits_and_is_the_largest_that_does_or_a_step_below(fitting, text, box):
    fitting_size, text_size = fitting
    width, height = box

    def fits(size):
        w_px, h_px = text_size(text, width, font_size=size)
        return w_px <= width and h_px <= height

    sizes = candidates(40, 18)
    one_by_one = next((size for size in sizes if fits(size)), 18)
    chosen = fitting_size(text, width, height, 40, 18)
    assert fits(chosen) or chosen == one_by_one == 18  # nothing clipped, unless nothing fits
    assert sizes.index(chosen) - sizes.index(one_by_one) in (0, 1)
    assert fitting_size(text, width, height, 41, 17) in candidates(41, 17)  # sizes off the scale


@pytest.mark.parametrize("box", BOXES)
def test_fitting_lays_words_out_in_the_reference_type_and_the_sizes_it_checks(window, monkeypatch, box):
    # Each type size laid out opens a font for good: a search that tried sizes it would not
    # show opened fonts no screen needed.
    from kiosk.ui import widgets

    laid_out = []
    measure = widgets.text_size
    monkeypatch.setattr(widgets, "text_size",
                        lambda *a, **kw: laid_out.append(kw["font_size"]) or measure(*a, **kw))
    chosen = widgets.fitting_size(WORDS[3], *box, 96, 18)
    # Besides the reference: the predicted size, then down the scale only while it did not fit.
    checked = {size for size in laid_out if size != widgets.REFERENCE} | {chosen}
    sizes = candidates(96, 18)
    run = set(sizes[sizes.index(max(checked)):sizes.index(chosen) + 1])
    assert checked <= run and run - {widgets.REFERENCE} <= checked
    assert chosen in laid_out


def test_text_that_fits_at_its_own_size_keeps_it_and_text_that_never_fits_gets_the_smallest(fitting):
    fitting_size, _ = fitting
    assert fitting_size("Ready", 600, 200, 96, 22) == 96
    assert fitting_size(WORDS[2] * 4, 100, 30, 40, 18) == 18


def test_text_is_fitted_once_just_before_the_frame_to_the_box_the_layout_settled_on(window, monkeypatch):
    from kivy.clock import Clock

    from kiosk.ui import widgets

    words = "Hold your foot with both hands"
    tried = []
    fit = widgets.fitting_size
    monkeypatch.setattr(widgets, "fitting_size", lambda *a, **kw: tried.append(a[1:3]) or fit(*a, **kw))
    text = widgets.FitText(words, size=40, smallest=18)
    button = widgets.BigButton(words, None)
    for size in [(100, 100), (60, 30), (300, 50)]:  # a layout's provisional boxes, then its own
        text.size = button.size = size
    assert tried == []  # each size tried would open a font for good
    Clock.tick_draw()
    assert tried == [(300, 50), (300 - 2 * 16, 50 - 2 * 8)]
    assert text.font_size == fit(words, 300, 50, 40, 18) < 40
    Clock.tick_draw()
    assert len(tried) == 2  # nothing new to fit


def test_a_drawn_text_keeps_its_texture_and_lets_go_of_its_drawing(window):
    from kivy.clock import Clock

    from kiosk.ui.widgets import Card, Text

    plain = Text("Ready", size=28)
    card = Card("Classic", "A soak, then a massage.", "14 min", on_tap=None)
    card.size = (360, 180)
    Clock.tick_draw()  # its words are composed just before the next frame
    for label in (plain, card):  # a card's words are markup: the other way text is drawn
        label.texture_update()
        assert label.texture is not None and label.texture.width > 0
        assert getattr(label._label, "_surface", None) is None


@pytest.mark.parametrize("valign", ["top", "middle", "bottom"])
def test_a_texts_picture_is_as_tall_as_its_words_and_sits_where_valign_says(window, valign):
    from kivy.graphics import Rectangle
    from kivy.lang import Builder

    from kiosk.ui.widgets import Text

    text = Text("Two short\nlines", size=22, valign=valign, size_hint=(None, None), pos=(10, 20))
    text.size = (300, 240)  # `size` is the type's size here
    text.texture_update()
    Builder.sync()  # what the next frame does first: the canvas follows the widget
    words_h = text.texture.height
    assert text.texture.width == 300 and 0 < words_h < 240 / 2  # not a picture of the whole box
    drawn = [i for i in text.canvas.children if isinstance(i, Rectangle) and i.texture is text.texture]
    assert len(drawn) == 1 and tuple(drawn[0].size) == (300, words_h)
    expected_y = {"top": 20 + 240 - words_h, "middle": int(20 + 120 - words_h / 2), "bottom": 20}[valign]
    assert drawn[0].pos == (10, expected_y)
