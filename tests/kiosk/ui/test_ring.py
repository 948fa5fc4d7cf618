"""The countdown ring: its arc is the part of the countdown still to run, drawn in straight pieces
of 5 degrees (half Kivy's count: the renderer keeps less, and nobody sees the difference)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("fraction, degrees", [(1.0, 360), (0.25, 90), (0.0, 0.5), (1.7, 360)])
def test_the_arc_is_the_fraction_left_in_five_degree_pieces(window, fraction, degrees):
    from kivy.base import EventLoop
    from kivy.core.window import Window

    from kiosk.ui.widgets import Ring

    ring = Ring(thickness=18, size_hint=(None, None))
    ring.size = (290, 290)  # as its layout gives it
    ring.fraction = fraction
    Window.add_widget(ring)
    try:
        EventLoop.idle()  # drawn: Kivy's lines tell their circle once they are built
        cx, cy, r, start, end, points = ring._arc.circle  # a point more than pieces
        track = ring._track.circle
    finally:
        Window.remove_widget(ring)
    assert (cx, cy, start, end) == (145, 145, 0, pytest.approx(degrees))
    assert r == 290 / 2 - 18 / 2 - 1
    assert points - 1 == max(2, -(-degrees // 5))
    assert track[3:] == (0, 360, 73)  # Kivy's own count: 183
