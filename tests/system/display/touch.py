"""A touchscreen made with uinput, for the system tests: a multitouch panel (protocol B, one
finger at a time) that udev tags ID_INPUT_TOUCHSCREEN, as it does a Raspberry Pi's official
display, and that taps where it is told.

    python3 touch.py serve --fifo /run/touch.fifo [--width 1024 --height 768] [--lifetime-s 600]
    echo "tap 260 270" > /run/touch.fifo     # x, y in screen pixels from the top left
    echo quit > /run/touch.fifo

`serve` creates the device, prints its event node (/dev/input/eventN) and a line per tap with
the guest's uptime at touch-down and touch-up, and keeps the device until `quit` or its
lifetime is over: removed at once after a tap, a device takes its unread events with it
(evdev answers a reader of a vanished device with ENODEV, queued events or not).

Make a new device for each test: the kernel passes on only the positions that changed, so a
program that opens a device after a tap there never learns a second tap's position if it
lands on the same pixel (as with a real panel).

Runs in the system-test guest as root, Python's standard library only. A test tool: never
installed on a customer's Pi.
"""

import argparse
import fcntl
import os
import select
import struct
import sys
import time
from pathlib import Path

EV_SYN, EV_KEY, EV_ABS = 0x00, 0x01, 0x03
SYN_REPORT = 0
BTN_TOUCH = 0x14A
ABS_X, ABS_Y = 0x00, 0x01
ABS_MT_SLOT, ABS_MT_POSITION_X, ABS_MT_POSITION_Y, ABS_MT_TRACKING_ID = 0x2F, 0x35, 0x36, 0x39
INPUT_PROP_DIRECT = 0x01
BUS_VIRTUAL = 0x06

UI_SET_EVBIT = 0x40045564  # _IOW('U', 100, int)
UI_SET_KEYBIT = 0x40045565
UI_SET_ABSBIT = 0x40045567
UI_SET_PROPBIT = 0x4004556E
UI_DEV_SETUP = 0x405C5503  # _IOW('U', 3, struct uinput_setup): 92 bytes
UI_ABS_SETUP = 0x401C5504  # _IOW('U', 4, struct uinput_abs_setup): 28 bytes
UI_DEV_CREATE = 0x5501
UI_DEV_DESTROY = 0x5502
UI_GET_SYSNAME_64 = 0x8040552C  # _IOC(_IOC_READ, 'U', 44, 64)

NAME = b"footbath-test touchscreen"
HOLD_S = 0.08  # a finger's touch, down to up
EVENT = struct.Struct("llHHi")  # struct input_event on a 64-bit kernel


def uptime_s():
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


class Touchscreen:
    def __init__(self, width, height):
        self.width, self.height = width, height
        self.fd = os.open("/dev/uinput", os.O_WRONLY | os.O_NONBLOCK)
        self.tracking_id = 0
        for ev in (EV_SYN, EV_KEY, EV_ABS):
            fcntl.ioctl(self.fd, UI_SET_EVBIT, ev)
        fcntl.ioctl(self.fd, UI_SET_KEYBIT, BTN_TOUCH)
        fcntl.ioctl(self.fd, UI_SET_PROPBIT, INPUT_PROP_DIRECT)
        axes = {ABS_X: width - 1, ABS_Y: height - 1, ABS_MT_SLOT: 9, ABS_MT_POSITION_X: width - 1,
                ABS_MT_POSITION_Y: height - 1, ABS_MT_TRACKING_ID: 65535}
        for code, maximum in axes.items():
            fcntl.ioctl(self.fd, UI_SET_ABSBIT, code)
            # code, padding, then input_absinfo: value, minimum, maximum, fuzz, flat, resolution
            fcntl.ioctl(self.fd, UI_ABS_SETUP, struct.pack("<HHiiiiii", code, 0, 0, 0, maximum, 0, 0, 0))
        setup = struct.pack("<HHHH80sI", BUS_VIRTUAL, 0xF00D, 0xB47B, 1, NAME, 0)
        fcntl.ioctl(self.fd, UI_DEV_SETUP, setup)
        fcntl.ioctl(self.fd, UI_DEV_CREATE)
        buf = bytearray(64)
        fcntl.ioctl(self.fd, UI_GET_SYSNAME_64, buf)
        self.sysname = buf.split(b"\0", 1)[0].decode()  # inputN

    def event_node(self):
        folder = Path("/sys/devices/virtual/input") / self.sysname
        for entry in sorted(folder.iterdir()):
            if entry.name.startswith("event"):
                return f"/dev/input/{entry.name}"
        return None

    def _emit(self, events):
        now = time.time()
        sec, usec = int(now), int((now % 1) * 1e6)
        data = b"".join(EVENT.pack(sec, usec, t, c, v) for t, c, v in [*events, (EV_SYN, SYN_REPORT, 0)])
        os.write(self.fd, data)

    def tap(self, x, y):
        x = max(0, min(self.width - 1, int(x)))
        y = max(0, min(self.height - 1, int(y)))
        self.tracking_id = (self.tracking_id + 1) % 65535
        self._emit([(EV_ABS, ABS_MT_SLOT, 0), (EV_ABS, ABS_MT_TRACKING_ID, self.tracking_id),
                    (EV_ABS, ABS_MT_POSITION_X, x), (EV_ABS, ABS_MT_POSITION_Y, y),
                    (EV_KEY, BTN_TOUCH, 1), (EV_ABS, ABS_X, x), (EV_ABS, ABS_Y, y)])
        down = uptime_s()
        time.sleep(HOLD_S)
        self._emit([(EV_ABS, ABS_MT_SLOT, 0), (EV_ABS, ABS_MT_TRACKING_ID, -1), (EV_KEY, BTN_TOUCH, 0)])
        return down, uptime_s()

    def close(self):
        try:
            fcntl.ioctl(self.fd, UI_DEV_DESTROY)
        finally:
            os.close(self.fd)


def serve(args):
    if not Path(args.fifo).exists():
        os.mkfifo(args.fifo, 0o600)
    panel = Touchscreen(args.width, args.height)
    print(f"device {panel.sysname} {panel.event_node()}", flush=True)
    deadline = time.monotonic() + args.lifetime_s
    # Opened read-write: the FIFO never reports end-of-file between two writers.
    fifo = os.open(args.fifo, os.O_RDWR | os.O_NONBLOCK)
    buffer = b""
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fifo], [], [], min(1.0, max(0.0, deadline - time.monotonic())))
            if not ready:
                continue
            buffer += os.read(fifo, 4096)
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                words = line.decode().split()
                if words[:1] == ["quit"]:
                    print("quit", flush=True)
                    return 0
                if words[:1] == ["tap"] and len(words) == 3:
                    down, up = panel.tap(float(words[1]), float(words[2]))
                    print(f"tap {words[1]} {words[2]} down {down:.2f} up {up:.2f}", flush=True)
                elif words:
                    print(f"unknown command: {line.decode()!r}", flush=True)
        print("lifetime over", flush=True)
        return 0
    finally:
        os.close(fifo)
        panel.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="make the device and tap on request")
    s.add_argument("--fifo", required=True)
    s.add_argument("--width", type=int, default=1024)
    s.add_argument("--height", type=int, default=768)
    s.add_argument("--lifetime-s", type=float, default=600.0)
    args = parser.parse_args(argv)
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
