"""Hand back memory the kiosk freed, so that its footprint is what it uses, not its high-water mark.

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
