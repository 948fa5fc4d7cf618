"""When the kiosk sounds (kiosk.ui.cues, pure): a chime at each step change, soft ticks for the
last 3 seconds of a countdown, an end tone; worked out from two successive statuses. The
statuses come from the real session runner, so they are what the controller sends."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.controller import flat
from kiosk.ui.cues import CHIME, END, TICK, TICKS_FROM_S, Cues
from routines import Session, load_library
from routines.runner import RATE_SPAN_S

CLASSIC = load_library(None).get("classic")
TARGET_C = CLASSIC.soak.target_c


class Customer:
    """A session through the real runner, its status as the controller would send it."""

    def __init__(self):
        self.now_s = 0.0
        self.session = Session.start(CLASSIC, now_s=0.0)

    def status(self) -> dict:
        snap = self.session.snapshot()
        return {"phase": snap.phase, "session": flat(snap), "now_s": self.now_s}

    def wait(self, seconds: float, water_c: float = TARGET_C) -> dict:
        self.now_s += seconds
        self.session.tick(now_s=self.now_s, water_c=water_c)
        return self.status()

    def settle(self, water_c: float = TARGET_C) -> dict:
        """Readings at the target for long enough to count as settled: the screen says ready."""
        for _ in range(int(RATE_SPAN_S) + 1):
            status = self.wait(1.0, water_c)
        return status

    def do(self, event: str, **kwargs) -> dict:
        getattr(self.session, event)(now_s=self.now_s, **kwargs)
        return self.status()

    def soaking(self) -> dict:
        self.do("confirm")  # filled
        self.settle()
        return self.do("confirm")  # feet in


def test_a_chime_when_the_soak_starts_and_at_every_step_and_foot_change():
    c, cues = Customer(), Cues()
    ready = (c.do("confirm"), c.settle())[1]
    assert ready["phase"] == "ready"
    soak = c.do("confirm")
    assert cues.after(ready, soak) == [CHIME]
    changes = 0
    before = soak
    while before["phase"] != "done":
        now = c.do("confirm") if before["session"]["waiting_for_tap"] else c.do("next")
        heard = cues.after(before, now)
        if now["phase"] == "done":
            assert heard == [END]
        else:
            assert heard == [CHIME], (before["session"]["title"], now["session"]["title"])
            changes += 1
        before = now
    # the dry-feet prompt, then three steps on each foot
    assert changes == 1 + 3 * 2


def test_back_is_a_step_change_too():
    c, cues = Customer(), Cues()
    c.soaking()
    c.do("next")
    c.do("confirm")
    right = c.do("next")
    assert (right["session"]["step_index"], right["session"]["foot"]) == (1, "right")
    assert cues.after(right, c.do("back")) == [CHIME]


def test_no_sound_while_filling_warming_or_waiting_for_the_feet():
    c, cues = Customer(), Cues()
    fill = c.status()
    heating = c.do("confirm")
    cold = c.wait(1.0, water_c=30.0)
    ready = c.settle()
    for before, after in ((None, fill), (fill, heating), (heating, cold), (cold, ready), (ready, ready)):
        assert cues.after(before, after) == []


def test_nothing_for_the_first_status_after_a_reconnection_or_when_the_session_is_gone():
    c, cues = Customer(), Cues()
    soak = c.soaking()
    assert cues.after(None, soak) == []
    assert cues.after(soak, None) == []
    assert cues.after(soak, {"phase": "idle", "session": None}) == []


def ticks_heard(step_s: float, pause_from: float | None = None) -> list[tuple[float, str]]:
    """Run the soak's last seconds in statuses `step_s` apart: (remaining, cue) for each cue."""
    c, cues = Customer(), Cues()
    c.soaking()
    before = c.wait(CLASSIC.soak.duration_s - 6.0)
    heard = []
    while before["phase"] == "soaking":
        if pause_from is not None and before["session"]["remaining_s"] <= pause_from \
                and not before["session"]["paused"]:
            now = c.do("pause")
            heard += [(now["session"]["remaining_s"], cue) for cue in cues.after(before, now)]
            before = now
            for _ in range(3):
                now = c.wait(step_s)
                heard += [(now["session"]["remaining_s"], cue) for cue in cues.after(before, now)]
                before = now
            now = c.do("resume")
            pause_from = None
        else:
            now = c.wait(step_s)
        remaining = now["session"]["remaining_s"]
        heard += [(remaining, cue) for cue in cues.after(before, now)]
        before = now
    return heard


def test_soft_ticks_for_the_last_three_seconds_then_the_chime_of_the_next_step():
    heard = ticks_heard(0.5)
    assert [cue for _, cue in heard] == [TICK] * TICKS_FROM_S + [CHIME]
    assert [r for r, cue in heard if cue == TICK] == [3.0, 2.0, 1.0]


def test_statuses_about_a_second_apart_tick_once_per_second_crossed():
    heard = ticks_heard(0.9)  # the DS18B20's pace: one status per reading
    assert [cue for _, cue in heard] == [TICK] * TICKS_FROM_S + [CHIME]


def test_no_ticks_while_paused():
    heard = ticks_heard(0.5, pause_from=2.6)
    assert [cue for _, cue in heard] == [TICK] * TICKS_FROM_S + [CHIME]
    paused_at = 2.5
    assert [r for r, cue in heard if cue == TICK] == [3.0, paused_at - 0.5, paused_at - 1.5]


def test_a_prompt_has_no_countdown_and_never_ticks():
    c, cues = Customer(), Cues()
    c.soaking()
    prompt = c.do("next")
    assert prompt["session"]["waiting_for_tap"] and prompt["session"]["remaining_s"] is None
    assert cues.after(prompt, c.wait(30.0)) == []


def test_one_more_minute_near_the_end_does_not_tick():
    c, cues = Customer(), Cues()
    c.soaking()
    near = c.wait(CLASSIC.soak.duration_s - 2.5)
    assert cues.after(near, c.do("extend", seconds=60)) == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0.05, max_value=2.5), min_size=1, max_size=200))
def test_never_more_than_three_ticks_per_countdown_and_only_in_its_last_three_seconds(gaps):
    c, cues = Customer(), Cues()
    c.soaking()
    before = c.wait(CLASSIC.soak.duration_s - 10.0)
    ticks = 0
    for gap in gaps:
        now = c.wait(gap)
        heard = cues.after(before, now)
        assert heard.count(TICK) <= 1
        if TICK in heard:
            assert now["session"]["remaining_s"] <= TICKS_FROM_S
            ticks += 1
        if now["phase"] != "soaking":
            break
        before = now
    assert ticks <= TICKS_FROM_S
