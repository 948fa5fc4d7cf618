"""Tidy the kiosk's memory while a screen is still, so that neither its size nor Python's garbage
collector gets in a customer's way.

`collect()`: Python's full garbage collection looks at every object the kiosk has (Kivy's
widgets are many), which took 30 ms here; falling in a fade, it spoiled a frame. So the kiosk
collects fully while nothing moves, then freezes what survived: the collections Python starts by
itself look only at what is newer.

`map_large_blocks()`: when its heap has no room left, glibc grows it for any block smaller than
a threshold it raises by itself as large blocks are freed, up to 32 MB. Picture-sized blocks
(textures, the text being drawn, the renderer's 64 KB working blocks) then come and go in the
heap between the kiosk's lasting small objects and leave holes no trim can hand back. With the
threshold fixed at 64 KB, such a block gets a mapping of its own instead, returned whole when
freed.

`trim()`: glibc keeps freed memory for reuse instead of returning it to the system, and the GL
driver frees megabytes at a time (drawing a screen's first frames; Mesa's software renderer most
of all). Without it, a kiosk that has shown every screen once would keep the peak of all of them
for as long as it runs. Nor is it only a matter of new screens: a countdown that redraws its
words every second leaves freed memory behind too, so the kiosk also trims every TRIM_EVERY_S.
It costs under a millisecond (bench.ui measures the kiosk's memory over a session).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc

TRIM_EVERY_S = 10.0
MAP_FROM_BYTES = 64 * 1024
M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter


def collect() -> None:
    """A full collection now, and the survivors set aside from later ones (until the next)."""
    gc.unfreeze()  # what was set aside last time may be garbage by now
    gc.collect()
    gc.freeze()


@functools.cache
def _glibc(function: str):
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), function) if name else None
    except (OSError, AttributeError):  # not glibc: nothing to ask
        return None


def map_large_blocks() -> bool:
    """Give a block of MAP_FROM_BYTES or more its own mapping when the heap has no room for it,
    rather than growing the heap; False where the C library cannot (not glibc)."""
    mallopt = _glibc("mallopt")
    return mallopt is not None and mallopt(M_MMAP_THRESHOLD, MAP_FROM_BYTES) == 1


def trim() -> bool:
    """Return freed memory to the system; False where the C library cannot (not glibc)."""
    malloc_trim = _glibc("malloc_trim")
    if malloc_trim is None:
        return False
    malloc_trim(0)
    return True
