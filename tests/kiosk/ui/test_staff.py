"""Issue 5 section 4 and the staff screen: the hidden entry (five taps on the top bar), a wrong
PIN refused and the right one let in; a fault acknowledged once its condition is gone; the
between-customer cleaning run step by step, its contact time waited out, and logged."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import routines
from kiosk.config import Cleaning, Config
from kiosk.journal import FILE_NAME as JOURNAL_FILE
from kiosk.staff_pins import LOCKOUT_S, PinStore
from kiosk.ui import words as w
from tests.kiosk.ui.drive import (
    STAFF,
    STAFF_PIN,
    assert_mentions,
    assert_shows,
    card,
    controller,
    enter_pin,
    flush,
    go_to,
    shown,
    sign_in,
)

CONTACT_S = 60  # the disinfectant's contact time, short for the test


def test_five_taps_on_the_top_bar_open_the_pin_pad_a_wrong_pin_is_refused_the_right_one_lets_in(kiosk):
    k = kiosk
    PinStore(k.config.paths.state_dir).set(STAFF, STAFF_PIN)
    for _ in range(4):
        k.tap(k.app.bar)
    k.pump(3)
    assert k.screen == "home", "fewer than five taps opened the PIN pad"
    k.tap(k.app.bar)
    k.wait_screen("pin")
    assert_shows(k, "Staff PIN")

    enter_pin(k, "1357")
    k.wait_for(lambda: "Wrong PIN. Try again." in k.texts(), what="the wrong PIN refused")
    assert k.screen == "pin" and k.app.ui.staff is None

    for wrong in ("0000", "1111", "2222", "3333"):  # five wrong in a row lock the pad a while
        enter_pin(k, wrong)
        flush(k)
    enter_pin(k, STAFF_PIN)
    k.wait_for(lambda: any("too many wrong PINs" in t for t in k.texts()), what="the lock-out said")
    assert k.screen == "pin" and k.app.ui.staff is None
    locked_s = controller(k)["now_s"]
    k.run_until(lambda s: s["now_s"] >= locked_s + LOCKOUT_S, what="the lock-out over")
    enter_pin(k, STAFF_PIN)
    k.wait_screen("staff")
    assert_mentions(k, f"Signed in: {STAFF}")
    assert_mentions(k, w.temperature(k.status["water_c"]))
    k.tap_text("Close")
    k.wait_screen("home")
    assert k.app.ui.staff is None

    for _ in range(5):
        k.tap(k.app.bar)
    k.wait_screen("pin")
    k.tap_text("Cancel")
    k.wait_screen("home")


def test_staff_acknowledge_a_fault_once_its_condition_is_gone(kiosk):
    k = kiosk
    PinStore(k.config.paths.state_dir).set(STAFF, STAFF_PIN)
    go_to(k, "warm")
    k.service.sim.bath.unplug_sensor()
    faulted = k.run_until(lambda s: s["faults"], max_steps=20, what="a fault")
    k.settle()
    k.wait_screen("fault")
    code = faulted["faults"][0]["code"]

    sign_in(k)  # the top bar is there on the fault screen too
    assert_mentions(k, code)
    assert k.button("Acknowledge fault").enabled
    k.tap_text("Acknowledge fault")  # the thermometer is still unplugged: refused
    flush(k)
    assert controller(k)["faults"], "a fault was cleared while its cause was still there"
    assert k.screen == "staff"

    k.service.sim.bath.plug_sensor()
    k.step(3)
    k.settle()
    k.tap_text("Acknowledge fault")
    shown(k, lambda s: not s["faults"], "the fault cleared")
    assert not controller(k)["faults"]
    assert_mentions(k, "No faults")
    assert not k.button("Acknowledge fault").enabled
    k.tap_text("Close")
    k.wait_screen("home")
    assert controller(k)["phase"] == "idle"


def journal_cleanings(k) -> list[tuple]:
    """The cleaning log as an inspector reads it: its own read-only connection to the file."""
    path = k.config.paths.state_dir / JOURNAL_FILE
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return db.execute("SELECT who, contact_s FROM cleanings").fetchall()


def test_staff_run_the_cleaning_cycle_step_by_step_and_it_is_logged(open_kiosk):
    k = open_kiosk(water_c=37.0, config=Config(cleaning=Cleaning(contact_s=CONTACT_S)),
                   cleaning_required=True)
    PinStore(k.config.paths.state_dir).set(STAFF, STAFF_PIN)
    go_to(k, "fill")
    k.tap_text("Stop")  # any session that ended leaves the basin to be cleaned
    k.wait_screen("home")
    shown(k, lambda s: s["cleaning_needed"], "the basin to be cleaned")
    assert_shows(k, w.home_state(k.status))
    k.tap(card(k, "Quick refresh"))  # no new customer until it is clean
    flush(k)
    assert k.screen == "home"

    sign_in(k)
    assert_mentions(k, "The basin needs cleaning.")
    k.tap_text("Start cleaning")
    shown(k, lambda s: s["cleaning"] and s["cleaning"]["index"] == 0, "the cleaning's first step")
    assert_mentions(k, "step 1 of 4")
    for index in (1, 2):
        k.tap_text("Done: next step")
        shown(k, lambda s, index=index: s["cleaning"]["index"] == index, f"cleaning step {index + 1}")
    assert controller(k)["cleaning"]["step"] == "disinfect"
    assert_mentions(k, w.minutes(CONTACT_S))
    assert not k.button("Done: next step").enabled
    k.tap_text("Done: next step")  # the contact time is not over: nothing happens
    flush(k)
    assert controller(k)["cleaning"]["index"] == 2

    k.run_until(lambda s: s["cleaning"]["remaining_s"] == 0, what="the contact time")
    k.settle()
    assert k.button("Done: next step").enabled
    k.tap_text("Done: next step")
    shown(k, lambda s: s["cleaning"]["index"] == 3, "the last cleaning step")
    k.tap_text("Done: next step")
    shown(k, lambda s: s["cleaning"] is None and not s["cleaning_needed"], "the cleaning finished")
    assert_mentions(k, "The basin is clean.")
    assert journal_cleanings(k) == [(STAFF, CONTACT_S)]

    k.tap_text("Close")
    k.wait_screen("home")
    assert_shows(k, w.home_state(k.status))
    k.tap(card(k, "Quick refresh"))
    k.wait_screen("health")


def test_the_hidden_entry_cannot_hide_a_session_and_its_stop(kiosk):
    k = kiosk
    go_to(k, "soak")
    for _ in range(5):
        k.tap(k.app.bar)
    k.pump(3)
    assert k.screen == "soak" and k.button("Stop")


def test_a_routine_staff_edit_reaches_the_kiosk_without_a_restart(kiosk):
    k = kiosk
    folder = k.config.paths.routines_dir
    folder.mkdir(parents=True, exist_ok=True)
    shipped = (Path(routines.__file__).parent / "shipped" / "quick.yaml").read_text(encoding="utf-8")
    edited = shipped.replace("name: Quick refresh", "name: Lunchtime refresh")
    assert edited != shipped
    (folder / "quick.yaml").write_text(edited, encoding="utf-8")  # overrides the shipped one
    k.step(20)  # the controller looks at the folder every 2 s, the idle kiosk asks every 10 s
    k.settle()
    k.wait_for(lambda: "Lunchtime refresh" in [r["name"] for r in k.app.routines],
               what="the edited routine on offer")
    # The card on the home screen says so too, not only the list behind it.
    k.wait_for(lambda: any("Lunchtime refresh" in c.text for c in k.app.screens["home"].cards.children),
               what="the edited routine's card")
    assert not any("Quick refresh" in c.text for c in k.app.screens["home"].cards.children)
