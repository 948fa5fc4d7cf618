"""Staff PINs: salted scrypt hashes in the state dir, never the PIN itself.

Each staff member may have a PIN under their name, so the journal can say who cleaned the
basin or acknowledged a fault. Wrong PINs are rate-limited by `PinGuard`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .atomic import write_atomic
from .errors import KioskError

FILE_NAME = "staff_pins.json"
PIN_PATTERN = r"[0-9]{4,8}"
NAME_PATTERN = r"[A-Za-z][A-Za-z0-9 ._-]{0,31}"
SCRYPT = {"n": 2**14, "r": 8, "p": 1}
MAX_TRIES = 5
LOCKOUT_S = 60.0


def _hash(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(pin.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32)


def hash_pin(pin: str) -> str:
    salt = os.urandom(16)
    digest = _hash(pin, salt, **SCRYPT)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${b64(salt).decode()}${b64(digest).decode()}"


def pin_matches(pin: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = _hash(pin, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


class PinStore:
    def __init__(self, state_dir: Path):
        self.path = Path(state_dir) / FILE_NAME

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise KioskError(f"cannot read the staff PINs in {self.path}: {exc.strerror}; check "
                             "paths.state_dir and its permissions (run as the footbath user or "
                             "with sudo)") from None
        except ValueError:
            raise KioskError(f"{self.path} is damaged (not JSON); set the PINs again with "
                             "`footbath pin set`") from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise KioskError(f"{self.path} is not a PIN file; set the PINs again with `footbath pin set`")
        return data

    def names(self) -> list[str]:
        return sorted(self._load())

    def set(self, name: str, pin: str) -> None:
        if not re.fullmatch(NAME_PATTERN, name):
            raise KioskError(f"{name!r} is not a staff name; use letters, digits, space, . _ -")
        if not re.fullmatch(PIN_PATTERN, pin):
            raise KioskError("a PIN is 4 to 8 digits")
        pins = self._load()
        pins[name] = hash_pin(pin)
        self._save(pins)

    def remove(self, name: str) -> None:
        pins = self._load()
        if name not in pins:
            raise KioskError(f"no PIN for {name!r}; staff with PINs: {', '.join(sorted(pins)) or 'none'}")
        del pins[name]
        self._save(pins)

    def _save(self, pins: dict[str, str]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, json.dumps(pins, indent=1, sort_keys=True).encode(), mode=0o600)
        except OSError as exc:
            raise KioskError(f"cannot write {self.path}: {exc.strerror}; run as the footbath "
                             "user or with sudo") from None

    def who(self, pin: str) -> str | None:
        """The staff member this PIN belongs to, or None."""
        for name, stored in sorted(self._load().items()):
            if pin_matches(pin, stored):
                return name
        return None


@dataclass
class PinGuard:
    """After MAX_TRIES wrong PINs, refuse every PIN for LOCKOUT_S (time passed in)."""

    failures: list[float] = field(default_factory=list)
    locked_until_s: float = float("-inf")

    def check_allowed(self, now_s: float) -> None:
        if now_s < self.locked_until_s:
            wait = math.ceil(self.locked_until_s - now_s)
            raise KioskError(f"too many wrong PINs; try again in {wait} s")

    def record(self, ok: bool, now_s: float) -> None:
        if ok:
            self.failures.clear()
            return
        self.failures = [t for t in self.failures if now_s - t < LOCKOUT_S] + [now_s]
        if len(self.failures) >= MAX_TRIES:
            self.locked_until_s = now_s + LOCKOUT_S
            self.failures.clear()
