"""The fade between screens (kiosk/ui/fade.py) and what the kiosk does while a screen is still:
the next screen of a session prepared and drawn once unseen, the garbage collected, memory
handed back."""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref
from pathlib import Path

import pytest

from kiosk.ui import flow, memory
from tests.kiosk.ui.drive import api, card, go_to

ROOT = Path(__file__).resolve().parents[3]


def test_the_flow_names_the_next_screen_of_every_customer_screen_and_it_is_a_screen():
    customer = [flow.OFFLINE, flow.HOME, flow.HEALTH, *flow.SESSION_SCREENS.values(), flow.DONE]
    assert set(flow.NEXT) == set(customer)
    assert set(flow.NEXT.values()) <= set(customer)
    assert flow.NEXT[flow.HOME] == flow.HEALTH and flow.NEXT[flow.DONE] == flow.HOME


def test_a_fade_draws_the_old_screen_over_the_new_one_fading_then_only_the_new_one(kiosk):
    k = kiosk
    fade, manager = k.app.manager.transition, k.app.manager
    home = k.app.screens["home"]
    k.tap(card(k, "Classic"))
    health = k.app.screens["health"]
    assert fade.is_active and manager.children == [home, health]  # the old one drawn last
    drawn = manager.canvas.children
    assert drawn.index(home.canvas) > drawn.index(health.canvas)
    assert home.opacity == 1.0 and health.opacity == 1.0  # the new screen live from the start
    while fade.is_active and home.opacity == 1.0:
        k.pump()
    if fade.is_active:  # partway: the old screen fading over the new one
        assert 0 < home.opacity < 1 and health.opacity == 1.0
    k.wait_screen("health")
    assert manager.children == [health] and home.parent is None
    assert home.opacity == 1.0  # as it will be when it shows again


def test_a_touch_during_the_fade_ends_it_on_the_new_screen(kiosk):
    k = kiosk
    k.tap(card(k, "Classic"))
    assert k.app.manager.transition.is_active
    k.tap(k.button("Back"))  # on the health screen, mid-fade: it lands there
    k.wait_screen("home")
    assert k.app.manager.children == [k.app.screens["home"]]
    assert k.app.screens["health"].opacity == 1.0


def test_a_rehearsal_draws_the_screen_unseen_for_one_frame_then_lets_it_go(kiosk):
    k = kiosk
    fade, manager = k.app.manager.transition, k.app.manager
    fill = k.app.screens["fill"]
    fade.rehearse(fill)
    assert fill.canvas in manager.canvas.children and fill.opacity == 0  # drawn, and clear
    assert manager.canvas.children.index(fill.canvas) == 0  # under the screen showing
    k.pump()
    assert fill.canvas not in manager.canvas.children and fill.opacity == 1 and fill.parent is None
    assert fill in fade.rehearsed
    fade.rehearse(fill)  # once is enough
    assert fill.canvas not in manager.canvas.children


def test_a_still_screen_gets_its_next_one_prepared_and_memory_tidied(kiosk):
    k = kiosk
    built = set(k.app.screens.built())
    assert "fill" not in built
    k.tap(card(k, "Classic"))
    k.wait_screen("health")
    k.app._settled()  # what the kiosk does once the screen has been still a moment
    assert "fill" in k.app.screens.built()
    assert gc.get_freeze_count() > 0  # the survivors of a full collection, set aside


def test_worth_keeping_is_the_screen_home_its_next_and_where_it_falls_back_to():
    assert flow.worth_keeping(flow.SOAK) == {flow.SOAK, flow.HOME, flow.STEP}
    assert flow.worth_keeping(flow.READY) == {flow.READY, flow.HOME, flow.SOAK, flow.WARM}
    assert flow.worth_keeping(flow.HOME) == {flow.HOME, flow.HEALTH}
    assert flow.worth_keeping(flow.STAFF) == {flow.STAFF, flow.HOME}


def test_screens_that_cannot_come_back_are_let_go_and_built_again_when_wanted(kiosk):
    k = kiosk
    k.tap(card(k, "Classic"))
    k.wait_screen("health")
    go_to(k, "ready")
    k.app._settled()
    assert {"ready", "soak", "warm", "home"} <= set(k.app.screens.built())  # cooling: warm again
    gone = [weakref.ref(k.app.screens[key]) for key in ("warm", "ready")]
    api(k, "confirm")  # feet in: the soak begins
    k.step()
    k.settle()
    k.wait_screen("soak")
    k.app._settled()
    assert set(k.app.screens.built()) == {"soak", "step", "home"}
    memory.collect()  # as the kiosk's next still moment does
    # Nothing held on to them (the fade from ready to soak had): their memory is free.
    assert [screen() for screen in gone] == [None, None]
    api(k, "stop")
    k.settle()
    k.wait_screen("home")
    k.app._settled()
    assert set(k.app.screens.built()) == {"home", "health"}
    k.tap(card(k, "Classic"))  # the next customer: the screens come back as they are wanted
    k.wait_screen("health")
    go_to(k, "fill")
    assert k.app.screens["fill"].parent is k.app.manager


def test_the_kiosk_hands_memory_back_every_few_seconds_but_never_mid_fade(kiosk, monkeypatch):
    k = kiosk
    trims = []
    monkeypatch.setattr(memory, "trim", lambda: trims.append(k.screen))
    assert k.app._trim_event.timeout == memory.TRIM_EVERY_S  # a countdown's redraws leave freed memory
    k.app._trim()
    assert trims == ["home"]
    k.tap(card(k, "Classic"))
    assert k.app.manager.transition.is_active
    k.app._trim()
    assert trims == ["home"]


def test_collect_sets_the_survivors_aside_and_a_later_collect_looks_at_them_again():
    gc.unfreeze()
    try:
        memory.collect()
        frozen = gc.get_freeze_count()
        assert frozen > 0
        memory.collect()
        assert gc.get_freeze_count() >= frozen * 0.9  # unfrozen, collected, frozen again
    finally:
        gc.unfreeze()


MAPPED_AFTER_BLOCKS = """
import ctypes, ctypes.util, sys
from kiosk.ui import memory
class MallInfo(ctypes.Structure):  # glibc's struct mallinfo2
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
        "keepcost")]
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.mallinfo2.restype = MallInfo
if sys.argv[1] == "kiosk":
    assert memory.map_large_blocks()
before = libc.mallinfo2().hblkhd
blocks = [libc.malloc(96 * 1024) for _ in range(50)]  # under glibc's own starting threshold
print(libc.mallinfo2().hblkhd - before)
"""


@pytest.mark.processes
@pytest.mark.parametrize("process", ["kiosk", "plain"])
def test_large_blocks_get_mappings_of_their_own_in_the_kiosk(process):
    """Once the heap has no room left, a large block is mapped on its own (and handed back whole
    when freed) rather than growing the heap: in the kiosk from 64 KB, elsewhere from 128 KB up."""
    if memory._glibc("mallinfo2") is None:
        pytest.skip("not glibc")
    done = subprocess.run([sys.executable, "-c", MAPPED_AFTER_BLOCKS, process], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True)
    mapped = int(done.stdout)
    if process == "kiosk":
        assert mapped >= 40 * 96 * 1024
    else:
        assert mapped == 0


def test_trim_says_whether_the_c_library_could_hand_memory_back():
    assert memory.trim() in (True, False)
    assert memory.trim() is (memory._glibc("malloc_trim") is not None)
