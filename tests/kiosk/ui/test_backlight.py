"""The screen's light (issue 5 section 3): never dark during a session, dim then off when idle,
the first touch on a dark screen only wakes it; written to a fake /sys/class/backlight."""

import logging
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.ui.backlight import DIM, OFF, ON, Backlight, Dimmer, ScreenLight, keep_lit

# -- the rule ------------------------------------------------------------------------------------


def test_idle_the_screen_dims_then_turns_off():
    dimmer = Dimmer(dim_after_s=150, off_after_s=300)
    assert dimmer.tick(1000.0, False) == ON  # the start counts as activity
    assert dimmer.tick(1149.9, False) == ON
    assert dimmer.tick(1150.0, False) == DIM
    assert dimmer.tick(1299.9, False) == DIM
    assert dimmer.tick(1300.0, False) == OFF
    assert dimmer.tick(99999.0, False) == OFF


def test_a_touch_on_a_lit_screen_goes_through_and_restarts_the_wait():
    dimmer = Dimmer(150, 300)
    dimmer.tick(0.0, False)
    assert dimmer.touched(100.0) is False
    assert dimmer.tick(249.0, False) == ON
    assert dimmer.tick(250.0, False) == DIM


@pytest.mark.parametrize("dark_at_s, level", [(150.0, DIM), (300.0, OFF)])
def test_the_first_touch_on_a_dark_screen_only_wakes_it(dark_at_s, level):
    dimmer = Dimmer(150, 300)
    dimmer.tick(0.0, False)
    assert dimmer.tick(dark_at_s, False) == level
    assert dimmer.touched(dark_at_s + 5) is True  # swallowed: the customer could not see the buttons
    assert dimmer.level == ON
    assert dimmer.touched(dark_at_s + 6) is False  # the next one is a real tap
    assert dimmer.tick(dark_at_s + 7, False) == ON


def test_a_touch_counts_by_what_the_customer_saw_not_by_the_clock():
    # The screen was lit at the last tick; a tap a moment past the limit, before the next tick,
    # was aimed at a button the customer could see.
    dimmer = Dimmer(150, 300)
    dimmer.tick(0.0, False)
    dimmer.tick(149.5, False)
    assert dimmer.touched(150.2) is False


def test_a_session_keeps_the_screen_lit_however_long_it_runs():
    dimmer = Dimmer(150, 300)
    dimmer.tick(0.0, False)
    assert all(dimmer.tick(t, True) == ON for t in range(0, 5000, 7))


def test_a_session_wakes_a_dark_screen_and_idle_counts_from_its_end():
    dimmer = Dimmer(150, 300)
    dimmer.tick(0.0, False)
    assert dimmer.tick(400.0, False) == OFF
    assert dimmer.tick(401.0, True) == ON  # started by staff, say: lit at once
    assert dimmer.tick(2000.0, True) == ON
    assert dimmer.tick(2149.0, False) == ON  # done at 2000: the customer dries their feet
    assert dimmer.tick(2150.0, False) == DIM
    assert dimmer.tick(2300.0, False) == OFF


def test_the_config_key_is_the_time_to_dark_and_the_screen_dims_at_half():
    dimmer = Dimmer.for_blank_after(300)
    assert (dimmer.dim_after_s, dimmer.off_after_s) == (150, 300)


@pytest.mark.parametrize("dim_s, off_s", [(0, 300), (-1, 300), (301, 300)])
def test_a_dimmer_must_dim_before_it_turns_off(dim_s, off_s):
    with pytest.raises(ValueError, match="blank_after_s"):
        Dimmer(dim_s, off_s)


EVENTS = st.lists(st.tuples(st.floats(0, 400, allow_nan=False), st.sampled_from(["touch", "tick"]),
                            st.booleans()), max_size=60)


@settings(max_examples=200, deadline=None)
@given(EVENTS)
def test_the_rule_holds_for_any_story(events):
    dimmer = Dimmer(150, 300)
    now_s, active_s, seen = 0.0, 0.0, ON
    dimmer.tick(now_s, False)
    for gap_s, kind, running in events:
        now_s += gap_s
        if kind == "touch":
            assert dimmer.touched(now_s) is (seen != ON)  # swallowed exactly when it was dark
            active_s, seen = now_s, ON
        else:
            level = dimmer.tick(now_s, running)
            if running:
                active_s = now_s
                assert level == ON
            idle_s = now_s - active_s
            assert level == (OFF if idle_s >= 300 else DIM if idle_s >= 150 else ON)
            seen = level


@pytest.mark.parametrize("status, lit", [
    (None, False),
    ({"phase": "idle", "faults": [], "cleaning": None}, False),
    ({"phase": "done", "faults": [], "cleaning": None}, False),
    ({"phase": "stopped", "faults": [], "cleaning": None}, False),
    *[({"phase": p, "faults": [], "cleaning": None}, True)
      for p in ("fill", "heating", "ready", "soaking", "steps")],
    ({"phase": "fault", "faults": [{"code": "overheat", "message": "..."}], "cleaning": None}, True),
    ({"phase": "idle", "faults": [], "cleaning": {"index": 0}}, True),
])
def test_a_session_a_fault_or_a_cleaning_cycle_keeps_the_screen_lit(status, lit):
    assert keep_lit(status) is lit


def test_keep_lit_covers_every_session_phase_of_the_runner():
    from kiosk.ui.flow import SESSION_SCREENS

    assert all(keep_lit({"phase": phase, "faults": []}) for phase in SESSION_SCREENS)


# -- the sysfs files -----------------------------------------------------------------------------


def panel(root: Path, name: str = "10-0045", *, max_brightness: int = 255, bl_power: bool = True,
          link: bool = False) -> Path:
    """A backlight device as the kernel shows it: sysfs entries are symlinks to the device."""
    device = root / "devices" / name if link else root / "backlight" / name
    device.mkdir(parents=True)
    (device / "max_brightness").write_text(f"{max_brightness}\n")
    (device / "brightness").write_text(f"{max_brightness}\n")
    (device / "actual_brightness").write_text(f"{max_brightness}\n")
    if bl_power:
        (device / "bl_power").write_text("0\n")
    if link:
        (root / "backlight").mkdir(exist_ok=True)
        (root / "backlight" / name).symlink_to(device)
    return device


def read(device: Path, name: str) -> str:
    return (device / name).read_text().strip()


def test_brightness_is_written_as_a_fraction_of_the_maximum(tmp_path):
    device = panel(tmp_path, max_brightness=255)
    light = Backlight(tmp_path / "backlight")
    assert light.present and light.max_brightness == 255
    light.set(0.2)
    assert read(device, "brightness") == "51"
    assert light.brightness() == pytest.approx(0.2)
    light.set(1.0)
    assert read(device, "brightness") == "255"
    light.set(0.001)
    assert read(device, "brightness") == "1"  # dim, never off by rounding


def test_off_powers_the_light_down_and_on_powers_it_up_again(tmp_path):
    device = panel(tmp_path)
    light = Backlight(tmp_path / "backlight")
    light.set(0.5)
    light.set(0.0)
    assert read(device, "bl_power") == "4"
    assert read(device, "brightness") == "128"  # kept for the wake-up
    light.set(1.0)
    assert (read(device, "bl_power"), read(device, "brightness")) == ("0", "255")


def test_without_bl_power_off_is_brightness_zero(tmp_path):
    device = panel(tmp_path, max_brightness=31, bl_power=False)
    light = Backlight(tmp_path / "backlight")
    light.set(0.0)
    assert read(device, "brightness") == "0"
    assert not (device / "bl_power").exists()
    light.set(0.5)
    assert read(device, "brightness") == "16"


def test_the_device_is_found_through_its_sysfs_symlink(tmp_path):
    device = panel(tmp_path, "rpi_backlight", link=True)
    light = Backlight(tmp_path / "backlight")
    light.set(0.0)
    assert read(device, "bl_power") == "4"


def test_the_first_device_is_used(tmp_path):
    first = panel(tmp_path, "10-0045")
    second = panel(tmp_path, "rpi_backlight")
    Backlight(tmp_path / "backlight").set(0.2)
    assert read(first, "brightness") == "51"
    assert read(second, "brightness") == "255"


@pytest.mark.parametrize("make", [
    lambda root: None,  # no /sys/class/backlight at all: a desktop
    lambda root: (root / "backlight").mkdir(),  # the class exists, no device
    lambda root: (root / "backlight" / "odd").mkdir(parents=True),  # a device without the files
])
def test_with_no_panel_nothing_is_written_and_nothing_fails(tmp_path, make):
    make(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    light = Backlight(tmp_path / "backlight")
    assert not light.present
    light.set(0.0)
    light.set(1.0)
    assert light.brightness() is None
    assert sorted(tmp_path.rglob("*")) == before


def test_an_unreadable_maximum_leaves_the_light_alone(tmp_path, caplog):
    device = panel(tmp_path)
    (device / "max_brightness").write_text("lots\n")
    light = Backlight(tmp_path / "backlight")
    assert not light.present
    light.set(0.2)
    assert read(device, "brightness") == "255"
    assert "max_brightness" in caplog.text


def test_a_light_that_cannot_be_written_is_logged_once_and_left_alone(tmp_path, caplog):
    device = panel(tmp_path, bl_power=False)
    (device / "bl_power").mkdir()  # its write fails, as without the udev rule
    light = Backlight(tmp_path / "backlight")
    assert light.present
    with caplog.at_level(logging.WARNING):
        light.set(0.2)
        light.set(0.5)
        light.set(0.0)
    assert caplog.text.count("cannot write") == 1
    assert "udev" in caplog.text
    assert not light.present
    assert read(device, "brightness") == "255"  # nothing more was tried after the failure


# -- the two together, as the app uses them -------------------------------------------------------


def test_the_screen_light_follows_the_rule_and_writes_only_changes(tmp_path):
    device = panel(tmp_path)
    (device / "brightness").write_text("0\n")
    (device / "bl_power").write_text("4\n")  # a kiosk that crashed while dark
    light = ScreenLight(Dimmer(150, 300), Backlight(tmp_path / "backlight"), dim=0.2)
    assert light.tick(0.0, False) == ON
    assert (read(device, "bl_power"), read(device, "brightness")) == ("0", "255")
    (device / "brightness").write_text("200\n")  # staff adjusting by hand
    light.tick(10.0, False)
    assert read(device, "brightness") == "200"  # same level: nothing rewritten
    assert light.tick(150.0, False) == DIM
    assert read(device, "brightness") == "51"
    assert light.tick(300.0, False) == OFF
    assert read(device, "bl_power") == "4"


def test_the_whole_waking_touch_is_swallowed_and_the_light_comes_on_at_once(tmp_path):
    device = panel(tmp_path)
    light = ScreenLight(Dimmer(150, 300), Backlight(tmp_path / "backlight"))
    light.tick(0.0, False)
    light.tick(300.0, False)
    assert light.touch_down("finger-1", 301.0) is True
    assert (read(device, "bl_power"), read(device, "brightness")) == ("0", "255")
    assert light.touch_move("finger-1") is True
    assert light.touch_up("finger-1") is True
    assert light.touch_down("finger-2", 302.0) is False  # now a real tap
    assert light.touch_move("finger-2") is False
    assert light.touch_up("finger-2") is False
    assert light.touch_up("finger-1") is False  # forgotten once released


def test_during_a_session_no_touch_is_swallowed(tmp_path):
    panel(tmp_path)
    light = ScreenLight(Dimmer(150, 300), Backlight(tmp_path / "backlight"))
    for t in range(0, 2000, 50):
        assert light.tick(float(t), True) == ON
        assert light.touch_down(t, t + 1.0) is False


def test_without_a_panel_the_screen_never_went_dark_so_no_touch_is_swallowed(tmp_path):
    light = ScreenLight(Dimmer(150, 300), Backlight(tmp_path / "none"))
    light.tick(0.0, False)
    assert light.tick(400.0, False) == OFF
    assert light.touch_down(1, 401.0) is False
    assert light.touch_up(1) is False


def test_staff_brightness_changes_the_lit_level_at_once_and_keeps_dim_below_it(tmp_path):
    device = panel(tmp_path, max_brightness=100)
    light = ScreenLight(Dimmer(150, 300), Backlight(tmp_path / "backlight"), dim=0.2)
    light.tick(0, False)
    assert (device / "brightness").read_text().strip() == "100"
    assert light.set_brightness(0.5) == 0.5
    assert (device / "brightness").read_text().strip() == "50"
    assert light.set_brightness(0.01) == 0.1  # never so dark that staff cannot see to undo it
    assert light.fractions["dim"] <= light.brightness
