"""The off-screen render the KMS captures are judged against: the real kiosk app on the real
controller (simulated bath), drawn with SDL_VIDEODRIVER=offscreen as kiosk/ui/screenshots.py
does, but at the display's size, so that the two are laid out alike.

    python -m tests.system.display.reference --out DIR [--size 1024x768] [--water-c 30.0]

Writes DIR/home.png and DIR/health.png (the health question, after a tap on the classic
card), their block grids DIR/home.grid.json and DIR/health.grid.json for the guest's watcher
(pictures.blocks), and DIR/layout.json: each screen's routine cards and buttons as rectangles
(x, y, w, h) in screen pixels from the top left, and the point to tap. Runs in a process of
its own: Kivy opens one window per process, with the settings it had when first imported.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROUTINE = "classic"


def _environment():
    os.environ["SDL_VIDEODRIVER"] = "offscreen"
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    for name in ("KIVY_NO_ARGS", "KIVY_NO_CONFIG", "KIVY_NO_FILELOG", "KIVY_NO_CONSOLELOG"):
        os.environ.setdefault(name, "1")
    os.environ.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="footbath-kivy-"))
    os.environ.setdefault("GPIOZERO_PIN_FACTORY", "mock")
    os.environ.setdefault("W1THERMSENSOR_NO_KERNEL_MODULE", "1")


def render(out: Path, *, width: int, height: int, water_c: float) -> dict:
    _environment()
    from kiosk.ui import harness, main

    # The harness opens its window at the panel's 800x480; the display here is bigger.
    harness.configure = lambda fullscreen: main.configure(fullscreen=False, width=width, height=height)
    from tests.system.display import pictures

    out.mkdir(parents=True, exist_ok=True)
    layout = {"size": [width, height], "water_c": water_c}
    with harness.OffscreenKiosk(water_c=water_c, seed=0) as k:
        from kivy.graphics.opengl import GL_RGB, GL_UNSIGNED_BYTE, glReadPixels

        wanted: list[Path] = []

        def on_flip(window, *_):
            if not wanted:
                return
            path = wanted.pop(0)
            w, h = window.size
            raw = glReadPixels(0, 0, w, h, GL_RGB, GL_UNSIGNED_BYTE)  # bottom row first
            rows = [raw[y * w * 3:(y + 1) * w * 3] for y in range(h)]
            pictures.write_png(path, w, h, b"".join(reversed(rows)))

        k.Window.bind(on_flip=on_flip)

        def shot(name: str):
            k.wait_for(lambda: not k.app.manager.transition.is_active, what="the end of the fade")
            if tuple(k.Window.size) != (width, height):
                raise RuntimeError(f"the off-screen window is {k.Window.size}, not {width}x{height}")
            path = out / f"{name}.png"
            wanted.append(path)
            deadline = time.monotonic() + 20
            while wanted and time.monotonic() < deadline:
                k.Window.canvas.ask_update()
                k.pump()
            if wanted:
                raise RuntimeError(f"no frame was drawn for {name}")
            w, h, rgb = pictures.read_png(path)
            pictures.save_grid(out / f"{name}.grid.json", pictures.blocks(w, h, rgb))
            return path

        def rect(widget) -> list[int]:
            x, y = widget.to_window(*widget.pos)
            return [round(x), round(height - y - widget.height), round(widget.width), round(widget.height)]

        k.wait_screen("home")
        k.wait_for(lambda: k.app.routines, what="the routines")
        k.step(3)
        k.wait_for(lambda: k.status and k.status["water_c"] is not None, what="a water reading")
        k.settle()
        home = k.app.screens["home"]
        cards = list(reversed(home.cards.children))  # Kivy keeps children last-added first
        layout["home"] = {
            "cards": [{"id": c.routine_id, "name": c.parts[0], "rect": rect(c)} for c in cards],
            "water": rect(k.app.bar.water),
            "texts": k.texts(),
        }
        shot("home")
        card = next(c for c in cards if c.routine_id == ROUTINE)
        x, y, w, h = rect(card)
        # Off the card's middle, where a finger lands: away from the words' centre line.
        layout["tap"] = {"routine": ROUTINE, "x": x + w // 3, "y": y + (2 * h) // 3}
        k.tap(card)
        k.wait_screen("health")
        from kiosk.ui.widgets import BigButton

        health = k.app.screens["health"]
        layout["health"] = {
            "buttons": [{"text": b.text, "rect": rect(b)} for b in health.walk() if isinstance(b, BigButton)],
            "water": rect(k.app.bar.water),
            "texts": k.texts(),
        }
        shot("health")
    (out / "layout.json").write_text(json.dumps(layout, indent=1) + "\n")
    return layout


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.system.display.reference",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--size", default="1024x768")
    parser.add_argument("--water-c", type=float, default=30.0)
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    try:
        render(args.out, width=width, height=height, water_c=args.water_c)
    except Exception as e:
        import traceback

        traceback.print_exc(file=sys.__stderr__)
        print(f"reference: {e}", file=sys.__stderr__)
        return 1
    print(args.out / "layout.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
