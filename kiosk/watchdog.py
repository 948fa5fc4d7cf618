"""systemd's notify protocol: READY=1 once serving, WATCHDOG=1 from the control loop.

If the control loop hangs, the pings stop and systemd kills and restarts the service, whose
ExecStopPost drives every output off. Without $NOTIFY_SOCKET (not under systemd) it is silent.

A ping never waits: a datagram socket's queue is short (10 messages by default on Linux), and
a receiver that is slow to read must cost a missed ping, never a stalled control loop.
"""

from __future__ import annotations

import os
import socket


class Watchdog:
    def __init__(self, address: str | None = None):
        self.address = address if address is not None else os.environ.get("NOTIFY_SOCKET")
        if self.address and self.address.startswith("@"):
            self.address = "\0" + self.address[1:]  # an abstract socket

    def notify(self, message: str) -> bool:
        """Send one message; False when there is no one to tell or it could not go now."""
        if not self.address:
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            try:
                sock.sendto(message.encode(), socket.MSG_DONTWAIT, self.address)
            except OSError:
                return False
        return True

    def ready(self) -> bool:
        return self.notify("READY=1")

    def ping(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")
