"""Tidy the kiosk's memory while a screen is still, so that neither its size nor Python's garbage
collector gets in a customer's way.

`collect()`: Python's full garbage collection looks at every object the kiosk has (Kivy's
widgets are many), which took 30 ms; when it fell in a fade, that frame missed its 16.7 ms
twice over. So the kiosk collects fully while nothing moves, then freezes what survived: later
collections look only at what is newer, a few milliseconds at most.

`trim()`: hand back memory the kiosk freed, so that its footprint is what it uses, not its
high-water mark.

glibc keeps freed memory for reuse instead of returning it to the system. The GL driver frees
megabytes at a time (compiling the shaders for a screen's first frames; Mesa's software
renderer most of all), so without this a kiosk that has shown every screen once would keep the
peak of all of them for as long as it runs. `trim()` asks glibc to return what is free; the app
calls it once a new screen has been still for a moment, which costs a few milliseconds.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc


def collect() -> None:
    """A full collection now, and the survivors set aside from later ones (until the next)."""
    gc.unfreeze()  # what was set aside last time may be garbage by now
    gc.collect()
    gc.freeze()


@functools.cache
def _malloc_trim():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc: nothing to ask
        return None


def trim() -> bool:
    """Return freed memory to the system; False where the C library cannot (not glibc)."""
    malloc_trim = _malloc_trim()
    if malloc_trim is None:
        return False
    malloc_trim(0)
    return True
