"""Save what a KMS display shows as a PNG: the framebuffer a CRTC scans out, read through
libdrm (ctypes) and written with Python's standard library only.

    python3 drmshot.py shot OUT.png [--card /dev/dri/card0]
    python3 drmshot.py watch --like GRID.json --out OUT.png --timeout-s 120

`shot` saves the screen now. `watch` reads the screen again and again until it looks like the
reference (GRID.json: pictures.blocks() of the off-screen render, made on the host), then
saves it; it prints one JSON line either way, with the guest's uptime when the matching
picture was read and when the read before it was (the screen changed in between), and
exits 3 if the time ran out (the last picture is saved then, to show what was there).

Runs in the system-test guest, as root: DRM_IOCTL_MODE_GETFB2 hands out a handle to another
program's framebuffer only to the DRM master or to root. Python through ctypes rather than C:
the guest has python3 and libdrm2 but no compiler, and nothing has to be built for its
processor or kept in step with its libdrm. A test tool: never installed on a customer's Pi.

How: drmModeGetResources -> the first CRTC with a mode and a framebuffer -> drmModeGetFB2
(pixel format, pitch, GEM handle) -> DRM_IOCTL_MODE_MAP_DUMB -> mmap of the card at that
offset. vkms's buffers and Mesa's software GL's (dumb buffers) map that way. A framebuffer
read while the kiosk draws into it would tear, so a picture counts once two reads agree.
"""

import argparse
import contextlib
import ctypes
import ctypes.util
import fcntl
import json
import mmap
import os
import struct
import sys
import time

import pictures

FORMATS = {  # DRM fourcc -> where R, G and B are in each 4-byte pixel
    0x34325258: (2, 1, 0),  # XR24, XRGB8888 little-endian: B G R X
    0x34325241: (2, 1, 0),  # AR24
    0x34324258: (0, 1, 2),  # XB24, XBGR8888: R G B X
    0x34324241: (0, 1, 2),  # AB24
}
DRM_IOCTL_MODE_MAP_DUMB = 0xC01064B3  # _IOWR('d', 0xB3, struct drm_mode_map_dumb)
DRM_IOCTL_GEM_CLOSE = 0x40086409  # _IOW('d', 0x09, struct drm_gem_close)
DRM_IOCTL_DROP_MASTER = 0x641F  # _IO('d', 0x1f)
U32P = ctypes.POINTER(ctypes.c_uint32)
TIMED_OUT = 3


class ModeRes(ctypes.Structure):
    _fields_ = [("count_fbs", ctypes.c_int), ("fbs", U32P),
                ("count_crtcs", ctypes.c_int), ("crtcs", U32P),
                ("count_connectors", ctypes.c_int), ("connectors", U32P),
                ("count_encoders", ctypes.c_int), ("encoders", U32P),
                ("min_width", ctypes.c_uint32), ("max_width", ctypes.c_uint32),
                ("min_height", ctypes.c_uint32), ("max_height", ctypes.c_uint32)]


class ModeInfo(ctypes.Structure):
    _fields_ = [("clock", ctypes.c_uint32),
                *[(n, ctypes.c_uint16) for n in ("hdisplay", "hsync_start", "hsync_end", "htotal", "hskew",
                                                  "vdisplay", "vsync_start", "vsync_end", "vtotal", "vscan")],
                ("vrefresh", ctypes.c_uint32), ("flags", ctypes.c_uint32), ("type", ctypes.c_uint32),
                ("name", ctypes.c_char * 32)]


class ModeCrtc(ctypes.Structure):
    _fields_ = [("crtc_id", ctypes.c_uint32), ("buffer_id", ctypes.c_uint32),
                ("x", ctypes.c_uint32), ("y", ctypes.c_uint32),
                ("width", ctypes.c_uint32), ("height", ctypes.c_uint32),
                ("mode_valid", ctypes.c_int), ("mode", ModeInfo), ("gamma_size", ctypes.c_int)]


class ModeFB2(ctypes.Structure):
    _fields_ = [("fb_id", ctypes.c_uint32), ("width", ctypes.c_uint32), ("height", ctypes.c_uint32),
                ("pixel_format", ctypes.c_uint32), ("modifier", ctypes.c_uint64), ("flags", ctypes.c_uint32),
                ("handles", ctypes.c_uint32 * 4), ("pitches", ctypes.c_uint32 * 4),
                ("offsets", ctypes.c_uint32 * 4)]


class NothingShown(RuntimeError):
    """No CRTC scans out a framebuffer: no program has set a mode (yet)."""


class ShotError(RuntimeError):
    pass


def uptime_s():
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


class Card:
    """An open KMS card, read through libdrm."""

    def __init__(self, path="/dev/dri/card0"):
        lib = ctypes.CDLL(ctypes.util.find_library("drm") or "libdrm.so.2", use_errno=True)
        lib.drmModeGetResources.restype = ctypes.POINTER(ModeRes)
        lib.drmModeGetResources.argtypes = [ctypes.c_int]
        lib.drmModeFreeResources.argtypes = [ctypes.POINTER(ModeRes)]
        lib.drmModeGetCrtc.restype = ctypes.POINTER(ModeCrtc)
        lib.drmModeGetCrtc.argtypes = [ctypes.c_int, ctypes.c_uint32]
        lib.drmModeFreeCrtc.argtypes = [ctypes.POINTER(ModeCrtc)]
        lib.drmModeGetFB2.restype = ctypes.POINTER(ModeFB2)
        lib.drmModeGetFB2.argtypes = [ctypes.c_int, ctypes.c_uint32]
        lib.drmModeFreeFB2.argtypes = [ctypes.POINTER(ModeFB2)]
        self.lib, self.path = lib, path
        self.fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        # The first program to open a card becomes its DRM master, the one that may set modes:
        # opened before the kiosk (a watch from the boot's first moment), this reader would
        # keep the kiosk from ever drawing. Root reads another's framebuffer without it.
        with contextlib.suppress(OSError):  # not the master: the kiosk is
            fcntl.ioctl(self.fd, DRM_IOCTL_DROP_MASTER)

    def close(self):
        os.close(self.fd)

    def scanout(self):
        """(crtc_id, fb_id) of the first CRTC showing a framebuffer."""
        lib = self.lib
        res = lib.drmModeGetResources(self.fd)
        if not res:
            raise ShotError(f"drmModeGetResources on {self.path}: {os.strerror(ctypes.get_errno())} "
                            "(not a KMS card?)")
        try:
            ids = [res.contents.crtcs[i] for i in range(res.contents.count_crtcs)]
        finally:
            lib.drmModeFreeResources(res)
        for crtc_id in ids:
            crtc = lib.drmModeGetCrtc(self.fd, crtc_id)
            if not crtc:
                continue
            try:
                if crtc.contents.buffer_id and crtc.contents.mode_valid:
                    return crtc_id, crtc.contents.buffer_id
            finally:
                lib.drmModeFreeCrtc(crtc)
        raise NothingShown(f"no CRTC of {self.path} shows a framebuffer: no program has set a mode")

    def read(self, fb_id):
        """The framebuffer's pixels as they are in memory: (info dict, bytes)."""
        fb = self.lib.drmModeGetFB2(self.fd, fb_id)
        if not fb:
            raise ShotError(f"drmModeGetFB2({fb_id}): {os.strerror(ctypes.get_errno())} (run as root)")
        try:
            info = fb.contents
            width, height, fmt = info.width, info.height, info.pixel_format
            handle, pitch, offset = info.handles[0], info.pitches[0], info.offsets[0]
        finally:
            self.lib.drmModeFreeFB2(fb)
        if handle == 0:
            raise ShotError("the kernel gave no handle for the framebuffer: run as root")
        try:
            if fmt not in FORMATS:
                raise ShotError(f"pixel format {struct.pack('<I', fmt)!r} is not one this reader knows")
            arg = bytearray(struct.pack("<IIQ", handle, 0, 0))
            fcntl.ioctl(self.fd, DRM_IOCTL_MODE_MAP_DUMB, arg)
            map_offset = struct.unpack("<IIQ", bytes(arg))[2]
            size = offset + pitch * height
            with mmap.mmap(self.fd, size, mmap.MAP_SHARED, mmap.PROT_READ, offset=map_offset) as m:
                data = m[offset:size]
        finally:
            fcntl.ioctl(self.fd, DRM_IOCTL_GEM_CLOSE, struct.pack("<II", handle, 0))
        return {"fb": fb_id, "width": width, "height": height, "pitch": pitch, "order": FORMATS[fmt]}, data

    def picture(self, tries=5):
        """(info, raw pixels) of the screen, read until two reads in a row agree."""
        previous = None
        for attempt in range(1, tries + 1):
            crtc_id, fb_id = self.scanout()
            info, data = self.read(fb_id)
            if previous is not None and previous == (fb_id, data):
                return dict(info, crtc=crtc_id, reads=attempt, stable=True), data
            previous = (fb_id, data)
        return dict(info, crtc=crtc_id, reads=tries, stable=False), data


def to_rgb(info, data):
    width, height, pitch, order = info["width"], info["height"], info["pitch"], info["order"]
    rgb = bytearray(width * height * 3)
    row_len = width * 3
    for y in range(height):
        row = data[y * pitch:y * pitch + width * 4]
        out = bytearray(row_len)
        out[0::3], out[1::3], out[2::3] = row[order[0]::4], row[order[1]::4], row[order[2]::4]
        rgb[y * row_len:(y + 1) * row_len] = out
    return bytes(rgb)


def grid_of(info, data, block):
    return pictures.blocks(info["width"], info["height"], data, block=block, bpp=4, order=info["order"],
                           stride=info["pitch"])


def save(path, info, data):
    pictures.write_png(path, info["width"], info["height"], to_rgb(info, data))


def shot(args):
    card = Card(args.card)
    try:
        info, data = card.picture()
    finally:
        card.close()
    save(args.out, info, data)
    return dict(info, uptime_s=uptime_s())


def watch(args):
    """Read until the screen looks like the reference grid, or the time is up."""
    like = pictures.load_grid(args.like)
    deadline = time.monotonic() + args.timeout_s
    card = Card(args.card)
    last = None  # (info, data, measures) of the last picture read
    before_s = None  # uptime at the start of the read before the matching one
    polls = 0
    try:
        while True:
            started_s = uptime_s()
            polls += 1
            try:
                info, data = card.picture()
            except NothingShown:
                info = None
            # The comparison is seconds of emulated CPU that the kiosk needs: a picture equal
            # to the last one compared (a byte compare, quick) is not compared again.
            if info is not None and (last is None or (info, data) != last[:2]):
                measures = pictures.compare(grid_of(info, data, like["block"]), like)
                last = (info, data, measures)
                if pictures.alike(measures, close_min=args.close_min, corr_min=args.corr_min):
                    save(args.out, info, data)
                    return dict(info, matched=True, read_uptime_s=started_s, before_uptime_s=before_s,
                                done_uptime_s=uptime_s(), polls=polls, **measures), 0
            if time.monotonic() >= deadline:
                break
            before_s = started_s
            time.sleep(min(args.interval_s, max(0.0, deadline - time.monotonic())))
    finally:
        card.close()
    if last is None:
        return {"matched": False, "polls": polls, "why": "nothing was ever shown", "uptime_s": uptime_s()}, \
            TIMED_OUT
    info, data, measures = last
    save(args.out, info, data)
    return dict(info, matched=False, polls=polls, uptime_s=uptime_s(), **measures), TIMED_OUT


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--card", default="/dev/dri/card0")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("shot", help="save the screen now")
    s.add_argument("out")
    w = sub.add_parser("watch", help="wait until the screen looks like a reference, then save it")
    w.add_argument("--like", required=True, help="the reference's blocks (JSON, pictures.save_grid)")
    w.add_argument("--out", required=True)
    w.add_argument("--timeout-s", type=float, required=True)
    w.add_argument("--interval-s", type=float, default=0.2)
    w.add_argument("--close-min", type=float, default=pictures.CLOSE_MIN)
    w.add_argument("--corr-min", type=float, default=pictures.CORR_MIN)
    args = parser.parse_args(argv)
    try:
        if args.command == "shot":
            result, code = shot(args), 0
        else:
            result, code = watch(args)
    except (ShotError, NothingShown, OSError) as e:
        print(f"drmshot: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return code


if __name__ == "__main__":
    sys.exit(main())
