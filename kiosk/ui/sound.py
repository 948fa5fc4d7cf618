"""The kiosk's sounds: the project's own tones through the speaker, else the bath's buzzer.

The tones (tones.py) are written once as WAV files to a cache folder and played with Kivy's
SoundLoader. A kiosk without a speaker (no audio device, or a file Kivy cannot load or play)
falls back to the buzzer: `buzzer(pattern)` gets the cue as seconds on, off, on, ... and the
app passes it to the controller, which owns the pin. Volume 0 mutes both.
"""

from __future__ import annotations

import logging
import os
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

from . import tones

log = logging.getLogger(__name__)

SPEAKER, BUZZER, SILENT = "speaker", "buzzer", "silent"
# Seconds on, off, on, ...: short and sparse, because a piezo buzzer is never soft.
BUZZ_PATTERNS: dict[str, tuple[float, ...]] = {
    "chime": (0.06, 0.12, 0.06),
    "tick": (0.02,),
    "end": (0.12, 0.15, 0.12, 0.15, 0.35),
}

Buzzer = Callable[[list[float]], object]


def cache_dir() -> Path:
    """Where the WAV files go: systemd's CacheDirectory= when set, else the user's cache."""
    if os.environ.get("CACHE_DIRECTORY"):
        return Path(os.environ["CACHE_DIRECTORY"].split(":")[0]) / "sounds"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "footbath" / "sounds"


def write_tones(folder: Path) -> dict[str, Path]:
    """Each cue's WAV file in `folder`, made only when missing.

    The name carries a checksum of the tone's recipe, so changed tones get new files and an
    unchanged kiosk starts without synthesising anything. Written at full volume: the player
    sets the volume when it plays.
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for cue, tone in tones.TONES.items():
        recipe = repr((tone, tones.PARTIALS, tones.FADE_OUT_S, tones.RATE_HZ)).encode()
        # A checksum, not a secure hash: it only tells recipes apart (and hashlib would bring
        # OpenSSL's code into the kiosk's memory for it).
        path = folder / f"{cue}-{zlib.crc32(recipe):08x}.wav"
        if not path.is_file():
            # Write beside, then rename: a kiosk killed mid-write never leaves half a file.
            with tempfile.NamedTemporaryFile(dir=folder, suffix=".tmp", delete=False) as out:
                out.write(tones.wav_bytes(cue, 1.0))
            Path(out.name).replace(path)
        paths[cue] = path
    return paths


def kivy_loader(path: str):
    from kivy.core.audio import SoundLoader

    return SoundLoader.load(path)


class Sound:
    """Plays the cues; `open()` decides once whether there is a speaker."""

    def __init__(self, sounds: dict | None, *, volume: float = 0.6, buzzer: Buzzer | None = None):
        self.sounds = sounds  # cue -> a loaded Kivy sound; None: no speaker
        self.volume = volume
        self.buzzer = buzzer  # may be set after opening: the app that owns the link comes later

    @classmethod
    def open(cls, *, volume: float = 0.6, buzzer: Buzzer | None = None, folder: Path | None = None,
             loader: Callable[[str], object] = kivy_loader) -> Sound:
        """Write the tones and load them; with no speaker, every cue goes to the buzzer."""
        try:
            paths = write_tones(folder or cache_dir())
        except OSError as exc:
            log.warning("sound: cannot write the tones (%s); check the cache folder's permissions. "
                        "Using the buzzer.", exc)
            return cls(None, volume=volume, buzzer=buzzer)
        sounds = {}
        for cue, path in paths.items():
            sound = loader(str(path))
            # Kivy's SDL2 provider returns an empty sound (length 0) when no audio device opened.
            if sound is None or not getattr(sound, "length", 0):
                log.info("sound: no speaker (cannot load %s); using the buzzer", path.name)
                return cls(None, volume=volume, buzzer=buzzer)
            sounds[cue] = sound
        return cls(sounds, volume=volume, buzzer=buzzer)

    @property
    def speaker(self) -> bool:
        return self.sounds is not None

    def play(self, cue: str, volume: float | None = None) -> str:
        """Sound `cue` at `volume` (default: the opened volume); says how: speaker, buzzer, silent."""
        if cue not in BUZZ_PATTERNS:
            raise ValueError(f"no sound called {cue!r}; the sounds are {', '.join(BUZZ_PATTERNS)}")
        volume = self.volume if volume is None else volume
        if volume <= 0:
            return SILENT
        if self.sounds is not None:
            sound = self.sounds[cue]
            sound.volume = min(1.0, volume)
            sound.play()
            if sound.state == "play":
                return SPEAKER
            log.info("sound: %s did not play; using the buzzer", cue)
        return self._buzz(cue)

    def _buzz(self, cue: str) -> str:
        if self.buzzer is None:
            return SILENT
        try:
            self.buzzer(list(BUZZ_PATTERNS[cue]))
        except Exception:  # a cue is never worth the kiosk: log it and carry on
            log.exception("sound: the buzzer failed")
            return SILENT
        return BUZZER
