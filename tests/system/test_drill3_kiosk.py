"""Drill 3 of the system tests, the kiosk on KMS: on the installed system (installed_vm),
footbath-kiosk.service as installed draws the home screen on the vkms display; a uinput
touchscreen taps a routine card and the health question appears.

What is on the screen is read back from the display itself (display/drmshot.py: the
framebuffer the CRTC scans out, through libdrm) and judged against the off-screen render of
the same screens at the same size (display/reference.py: the real app on the real controller,
SDL_VIDEODRIVER=offscreen, as kiosk/ui/screenshots.py makes the docs' pictures), block by
block (display/pictures.py), so that a blank screen, a half-drawn one or another screen fails.

The first home screen is watched for from the boot's first moment by the installed_vm fixture,
before any drill loads the guest (out/home-boot.json). Figures quoted at the end of the run:
boot to the home screen drawn (guest uptime) and its ratio to a bare boot of the same image,
the kiosk's restart to the home screen, the tap to the health question.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.system.display import (
    GUEST_DISPLAY,
    KIOSK,
    SIZE,
    kiosk_journal,
    pictures,
    wait_for_the_kiosk,
    watch,
)
from tests.system.vm import VM

TOUCH_FIFO = "/run/footbath-test-touch.fifo"
TOUCH_LOG = "/run/footbath-test-touch.log"
CARD_BLOCK = 8  # pixels a side when a card or a button is judged on its own
RESTART_TIMEOUT_S = 120  # the kiosk restarted to the home screen (about 25 s here)
TAP_TIMEOUT_S = 60  # a tap to the health question (a few seconds here)


# -- what the screens should look like --------------------------------------------------------

def grid(path: Path, block: int = pictures.BLOCK, box=None) -> dict:
    width, height, rgb = pictures.read_png(path)
    return pictures.blocks(width, height, rgb, block=block, box=box)


@dataclass
class Verdict:
    whole: dict  # pictures.compare() of the whole screen
    parts: dict  # name -> compare() of each card or button's rectangle
    differing_pixels: int  # by more than 32 in a channel

    @property
    def alike(self) -> bool:
        return pictures.alike(self.whole) and all(pictures.alike(m) for m in self.parts.values())

    def __str__(self) -> str:
        worst = min(self.parts.items(), key=lambda kv: (kv[1]["close"], kv[1]["corr"]))
        return (f"whole screen close {self.whole['close']:.3f} corr {self.whole['corr']:.3f}; "
                f"{len(self.parts)} parts, least alike {worst[0]!r} close {worst[1]['close']:.3f} "
                f"corr {worst[1]['corr']:.3f}; {self.differing_pixels} pixels differ by more than 32")


def judge(capture: Path, reference_png: Path, parts: dict) -> Verdict:
    """The capture against the reference: the whole screen in 16-pixel blocks, then each part
    (name -> rect x, y, w, h from the top left) in 8-pixel blocks."""
    w, h, got = pictures.read_png(capture)
    rw, rh, want = pictures.read_png(reference_png)
    assert (w, h) == (rw, rh), f"the capture is {w}x{h}, the reference {rw}x{rh}"
    whole = pictures.compare(pictures.blocks(w, h, got), pictures.blocks(w, h, want))
    measured = {}
    for name, rect in parts.items():
        box = tuple(rect)
        measured[name] = pictures.compare(pictures.blocks(w, h, got, block=CARD_BLOCK, box=box),
                                          pictures.blocks(w, h, want, block=CARD_BLOCK, box=box))
    return Verdict(whole, measured, pictures.pixel_differences(w, h, got, want))


def home_parts(layout: dict) -> dict:
    return {card["name"]: card["rect"] for card in layout["home"]["cards"]}


def health_parts(layout: dict) -> dict:
    return {button["text"]: button["rect"] for button in layout["health"]["buttons"]}


def test_the_judge_refuses_a_blank_or_another_screen(reference, tmp_path):
    """The comparison used below passes each screen against its own render and fails a blank
    screen (black, or the background colour alone), the other screen, and a home screen whose
    cards are missing."""
    layout = json.loads((reference / "layout.json").read_text())
    home, health = reference / "home.png", reference / "health.png"
    w, h, rgb = pictures.read_png(home)
    background = rgb[:3]  # the top-left pixel
    blank, black = tmp_path / "blank.png", tmp_path / "black.png"
    pictures.write_png(blank, w, h, background * (w * h))
    pictures.write_png(black, w, h, bytes(w * h * 3))
    # The home screen with its cards painted over in the background colour.
    no_cards = bytearray(rgb)
    for x, y, cw, ch in home_parts(layout).values():
        for row in range(y, y + ch):
            no_cards[(row * w + x) * 3:(row * w + x + cw) * 3] = background * cw
    cardless = tmp_path / "no-cards.png"
    pictures.write_png(cardless, w, h, bytes(no_cards))

    assert judge(home, home, home_parts(layout)).alike
    assert judge(health, health, health_parts(layout)).alike
    wrongs = [(blank, home), (black, home), (cardless, home), (health, home), (blank, health), (home, health)]
    for wrong, against in wrongs:
        verdict = judge(wrong, against, home_parts(layout) if against == home else health_parts(layout))
        assert not verdict.alike, f"{wrong.name} passed as {against.name}: {verdict}"
        print(f"{wrong.name} as {against.name}: refused ({verdict})")


# -- the kiosk on the display ----------------------------------------------------------------------

@dataclass
class KioskBoot:
    vm: VM
    out: Path  # the captures, on the host
    home: dict  # what the watcher said of the boot's first home screen (drmshot.py watch)


@pytest.fixture(scope="module")
def kiosk_boot(installed_vm, system_share) -> KioskBoot:
    out = system_share / "out"
    return KioskBoot(vm=installed_vm, out=out, home=json.loads((out / "home-boot.json").read_text()))


def not_matched(what: str, seen: dict, png: Path, vm: VM) -> str:
    return (f"{what} never looked like its off-screen render: last look {json.dumps(seen)}; "
            f"what the screen showed then: {png}\nserial log {vm.serial_log}; the kiosk's journal:\n"
            f"{kiosk_journal(vm)}")


def test_the_home_screen_is_drawn_on_kms_with_the_routine_cards(kiosk_boot, installed_system, reference,
                                                                 figures):
    vm, home = kiosk_boot.vm, kiosk_boot.home
    capture = kiosk_boot.out / "home-boot.png"
    shutil.copyfile(reference / "home.png", kiosk_boot.out / "home-reference.png")
    assert home["matched"], not_matched("the screen after boot", home, capture, vm)
    assert (home["width"], home["height"]) == SIZE
    layout = json.loads((reference / "layout.json").read_text())
    verdict = judge(capture, reference / "home.png", home_parts(layout))
    assert verdict.alike, f"{capture} is not the home screen: {verdict}"

    # The units as installed, each started once, when the home screen was drawn.
    for unit, shown in home["units"].items():
        assert (shown["state"], shown["restarts"]) == ("active", 0), f"{unit}: {shown}\n{kiosk_journal(vm)}"
    controller_s = home["units"]["footbath.service"]["active_at_s"]
    kiosk_s = home["units"][KIOSK]["active_at_s"]
    drawn_s = home["read_uptime_s"]
    since = f" (previous look {home['before_uptime_s']:.1f} s)" if home["before_uptime_s"] else ""
    bare = installed_system.manifest["boot_uptime_s"]  # the image's bare boot, before the install
    figures.append(
        f"drill 3 kiosk: home screen drawn at guest uptime {drawn_s:.1f} s{since}: controller ready "
        f"{controller_s:.1f} s, kiosk started {kiosk_s:.1f} s, so {drawn_s - kiosk_s:.1f} s from the kiosk's "
        f"start to its first home screen; {drawn_s / bare:.1f}x a bare boot of the image ({bare:.1f} s to "
        f"the agent)")
    figures.append(f"drill 3 kiosk: home on KMS vs off-screen: {verdict}")


def test_a_tap_on_a_routine_card_brings_the_health_question(kiosk_boot, reference, figures):
    vm, out = kiosk_boot.vm, kiosk_boot.out
    layout = json.loads((reference / "layout.json").read_text())
    if not kiosk_boot.home["matched"]:
        pytest.fail("no home screen to tap on (see the test before)")
    # A touchscreen as the Pi's panel is: multitouch, protocol B, tagged by udev.
    vm.run_background(["python3", "-u", f"{GUEST_DISPLAY}/touch.py", "serve", "--fifo", TOUCH_FIFO,
                       "--lifetime-s", "600"], log=TOUCH_LOG)
    try:
        line = vm.wait_until(f"grep '^device ' {TOUCH_LOG}", timeout_s=30).stdout.split()
        node = line[2]
        vm.run("udevadm settle --timeout=30", timeout_s=45)
        props = vm.run(["udevadm", "info", "--query=property", f"--name={node}"]).stdout
        assert "ID_INPUT_TOUCHSCREEN=1" in props.splitlines(), props

        # The kiosk looks for touchscreens when it starts (a Pi's panel is there at boot): start
        # it again (the installed_vm fixture stopped it), as staff do after plugging one in,
        # and wait for its home screen again.
        restarted = vm.run(["systemctl", "restart", KIOSK], timeout_s=60)
        wait_for_the_kiosk(vm, RESTART_TIMEOUT_S)
        home = watch(vm, "home", "home-restarted-kms.png", RESTART_TIMEOUT_S)
        assert home["matched"], not_matched("the screen after the kiosk's restart", home,
                                            out / "home-restarted-kms.png", vm)
        pid = vm.run(["systemctl", "show", "-P", "MainPID", KIOSK]).stdout.strip()
        opened = vm.run(f"ls -l /proc/{pid}/fd | grep -c ' {node}$'", check=False).stdout.strip()
        assert int(opened or 0) >= 1, f"the kiosk (pid {pid}) has not opened {node}\n{kiosk_journal(vm)}"

        tap = layout["tap"]
        vm.run(f"echo 'tap {tap['x']} {tap['y']}' > {TOUCH_FIFO}")
        tapped = vm.wait_until(f"grep '^tap ' {TOUCH_LOG}", timeout_s=30).stdout.split()
        down_s = float(tapped[tapped.index("down") + 1])
        health = watch(vm, "health", "health-kms.png", TAP_TIMEOUT_S)
    finally:
        vm.run(f"test -p {TOUCH_FIFO} && echo quit > {TOUCH_FIFO}", check=False)
        vm.run(["systemctl", "stop", KIOSK], check=False, timeout_s=60)  # the CPU for the next drills
    capture = out / "health-kms.png"
    shutil.copyfile(reference / "health.png", out / "health-reference.png")
    assert health["matched"], not_matched(f"the screen after a tap at {tap}", health, capture, vm)
    verdict = judge(capture, reference / "health.png", health_parts(layout))
    assert verdict.alike, f"{capture} is not the health question: {verdict}"
    # And the judge tells the two real captures apart.
    assert not judge(capture, reference / "home.png", home_parts(layout)).alike
    assert not judge(out / "home-boot.png", reference / "health.png", health_parts(layout)).alike

    restart_s = home["read_uptime_s"] - restarted.end_uptime_s
    figures.append(f"drill 3 kiosk: touchscreen {node} (ID_INPUT_TOUCHSCREEN=1) opened {opened}x by the "
                   f"kiosk; "
                   f"kiosk restarted to its home screen in {restart_s:.1f} s (guest); "
                   f"tap at ({tap['x']}, {tap['y']}) on the {tap['routine']} card to the health "
                   f"question drawn: {health['read_uptime_s'] - down_s:.1f} s")
    figures.append(f"drill 3 kiosk: health question on KMS vs off-screen: {verdict}")
    figures.append(f"drill 3 kiosk: pictures in {out}")
