"""The kiosk's loop runs at the full frame rate only while something moves or a finger has just
touched the glass, and slowly otherwise (kiosk/ui/pace.py): the pure rule, then the app
applying it to Kivy's clock."""

from __future__ import annotations

import time

import pytest

from kiosk.ui.pace import FULL_FPS, IDLE_FPS, LINGER_S, PACING_FPS, FramePace
from tests.kiosk.ui.drive import api, card, go_to


def test_idle_until_touched_then_full_for_the_linger_then_idle_again():
    pace = FramePace()
    assert pace.fps(100.0) == IDLE_FPS and pace.settles_in(100.0) is None
    pace.touched(100.0)
    assert pace.fps(100.0) == FULL_FPS
    assert pace.settles_in(100.5) == pytest.approx(LINGER_S - 0.5)
    assert pace.fps(100.0 + LINGER_S - 0.01) == FULL_FPS
    assert pace.fps(100.0 + LINGER_S) == IDLE_FPS and pace.settles_in(100.0 + LINGER_S) is None


def test_a_later_touch_extends_the_linger_and_an_earlier_one_does_not_shorten_it():
    pace = FramePace(linger_s=2.0)
    pace.touched(10.0)
    pace.touched(11.0)
    assert pace.settles_in(11.0) == pytest.approx(2.0)
    pace.touched(9.0)  # a touch read late: it does not cut the later one's linger short
    assert pace.settles_in(11.0) == pytest.approx(2.0)


def test_full_while_anything_moves_whatever_the_touches():
    pace = FramePace()
    pace.moving("fade", True)
    pace.moving("pacing", True)
    assert pace.fps(0.0) == FULL_FPS and pace.settles_in(0.0) is None  # the movers say when they stop
    pace.moving("fade", False)
    assert pace.fps(0.0) == FULL_FPS  # the pacing ring still turns
    pace.moving("pacing", False)
    pace.moving("pacing", False)  # stopping twice is harmless
    assert pace.fps(0.0) == IDLE_FPS


def test_the_pacing_ring_turns_at_its_own_rate_below_a_fade_and_a_touch_above_it():
    pace = FramePace()
    assert IDLE_FPS < PACING_FPS < FULL_FPS
    pace.moving("pacing", True, fps=PACING_FPS)
    assert pace.fps(0.0) == PACING_FPS and pace.settles_in(0.0) is None
    pace.moving("fade", True)
    assert pace.fps(0.0) == FULL_FPS  # the fastest mover sets the rate
    pace.moving("fade", False)
    pace.touched(10.0)
    assert pace.fps(10.5) == FULL_FPS
    assert pace.settles_in(10.5) == pytest.approx(LINGER_S - 0.5)  # then down to the ring's rate
    assert pace.fps(10.0 + LINGER_S) == PACING_FPS
    pace.moving("pacing", False)
    assert pace.fps(10.0 + LINGER_S) == IDLE_FPS


def test_a_mover_never_slows_the_loop_below_its_idle_rate_nor_asks_above_full():
    pace = FramePace(idle_fps=FULL_FPS)  # as the test harness runs it
    pace.moving("pacing", True, fps=PACING_FPS)
    assert pace.fps(0.0) == FULL_FPS
    pace = FramePace()
    pace.moving("spin", True, fps=5 * FULL_FPS)
    assert pace.fps(0.0) == FULL_FPS


@pytest.mark.parametrize("idle", [0, -5, FULL_FPS + 1])
def test_an_idle_rate_outside_zero_to_full_is_refused(idle):
    with pytest.raises(ValueError, match="idle rate"):
        FramePace(idle_fps=idle)


# -- the app sets Kivy's clock from it ------------------------------------------------------------

@pytest.fixture
def paced(kiosk):
    """The harness's kiosk with the real pace (the harness keeps the full rate to pump quickly)."""
    from kivy.clock import Clock

    kiosk.app.pace = FramePace()
    kiosk.app.repace()
    yield kiosk, Clock
    kiosk.app.pace = FramePace(idle_fps=FULL_FPS)
    kiosk.app.repace()


def test_a_still_home_screen_idles_and_a_tap_wakes_the_loop_until_its_linger_ends(paced):
    k, clock = paced
    assert clock._max_fps == IDLE_FPS
    k.tap(card(k, "Classic"))
    assert clock._max_fps == FULL_FPS
    k.wait_screen("health")
    assert clock._max_fps == FULL_FPS  # the fade is over, the linger is not
    k.app.repace(time.monotonic() + LINGER_S + 0.1)
    assert clock._max_fps == IDLE_FPS


def test_a_fade_the_controller_started_runs_at_the_full_rate_and_the_loop_idles_after_it(paced):
    k, clock = paced
    k.app.choose("classic")  # as a status would change the screen: no finger on the glass
    assert k.app.manager.transition.is_active and clock._max_fps == FULL_FPS
    k.wait_screen("health")
    assert clock._max_fps == IDLE_FPS


def test_the_pacing_ring_turns_at_its_own_rate_and_a_pause_lets_the_loop_idle(paced):
    k, clock = paced
    go_to(k, "step")
    while not k.status["session"]["reps"]:  # on to the first step paced by repetitions
        api(k, "next")
        k.step()
        k.settle()
    k.wait_screen("step")
    k.app.repace(time.monotonic() + LINGER_S + 0.1)  # long after the last touch
    assert k.app.screens["step"]._pace_anim is not None and clock._max_fps == PACING_FPS
    api(k, "pause")
    k.step()
    k.settle()
    assert k.app.screens["step"]._pace_anim is None and clock._max_fps == IDLE_FPS
