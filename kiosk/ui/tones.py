"""The kiosk's sounds, made by the project: soft bell-like notes as 16-bit mono PCM WAV bytes.

Pure (no Kivy, no files): `wav_bytes(cue, volume)` gives the bytes of one cue. Each note is a
sine with two quiet overtones (a small bell rather than a beep), a raised-cosine attack and an
exponential decay, and every sound fades to exactly zero at its end, so nothing clicks.
"""

from __future__ import annotations

import io
import math
import sys
import wave
from array import array
from dataclasses import dataclass

RATE_HZ = 44100  # what Kivy's SDL2 mixer opens: the files play without resampling
FADE_OUT_S = 0.03  # the last moments of every sound: down to exactly zero
# Overtones of a small bell: (multiple of the pitch, relative level). Quiet, so the note stays soft.
PARTIALS = ((1.0, 1.0), (2.0, 0.22), (3.0, 0.06))


@dataclass(frozen=True)
class Note:
    pitch_hz: float
    start_s: float
    decay_s: float  # time for the note to fall to 1/e
    attack_s: float = 0.012
    level: float = 1.0  # relative to the other notes of the same sound


@dataclass(frozen=True)
class Tone:
    length_s: float
    peak: float  # peak sample at volume 1, as a fraction of full scale: all cues stay soft
    notes: tuple[Note, ...]


C5, E5, G5, C6 = 523.25, 659.26, 783.99, 1046.50

TONES = {
    # A step change: a rising fifth, the second note overlapping the first.
    "chime": Tone(1.2, 0.45, (Note(C5, 0.0, 0.35), Note(G5, 0.16, 0.4))),
    # The last 3 seconds: a short, quiet tap, well below the chime.
    "tick": Tone(0.09, 0.22, (Note(C6, 0.0, 0.02, attack_s=0.003),)),
    # The end: a slow major arpeggio that lets the last note ring.
    "end": Tone(2.4, 0.45, (Note(C5, 0.0, 0.4), Note(E5, 0.28, 0.4), Note(G5, 0.56, 0.45),
                            Note(C6, 0.84, 0.6, level=0.8))),
}
CUES = tuple(TONES)


def samples(tone: Tone, volume: float, rate_hz: int = RATE_HZ) -> array:
    """The tone as signed 16-bit samples; its peak is exactly `tone.peak * volume` of full scale."""
    if not 0.0 <= volume <= 1.0:
        raise ValueError(f"volume {volume!r} is outside 0..1; check kiosk.volume in the config")
    mix = _shape(tone, rate_hz)
    scale = tone.peak * volume * 32767
    return array("h", (round(x * scale) for x in mix))


def _shape(tone: Tone, rate_hz: int) -> tuple[float, ...]:
    """The tone's waveform with a peak of exactly 1. Not cached: the kiosk writes each tone once
    (sound.write_tones), and kept it would hold 5 MB of floats for good."""
    count = round(tone.length_s * rate_hz)
    mix = [0.0] * count
    for note in tone.notes:
        first = round(note.start_s * rate_hz)
        for n, value in enumerate(_note(note, count - first, rate_hz), start=first):
            mix[n] += value
    fade = round(FADE_OUT_S * rate_hz)
    for n in range(max(0, count - fade), count):
        mix[n] *= 0.5 - 0.5 * math.cos(math.pi * (count - 1 - n) / fade)  # 1 -> 0, smoothly
    highest = max(map(abs, mix), default=0.0)
    return tuple(x / highest for x in mix) if highest else tuple(mix)


def _note(note: Note, count: int, rate_hz: int) -> list[float]:
    """One note: a raised-cosine attack from exactly zero, then an exponential decay."""
    sin, cos, exp, pi = math.sin, math.cos, math.exp, math.pi
    attack = max(1, round(note.attack_s * rate_hz))
    per_sample = 1.0 / (note.decay_s * rate_hz)
    envelope = [note.level * exp(-n * per_sample) for n in range(count)]
    for n in range(min(attack, count)):
        envelope[n] *= 0.5 - 0.5 * cos(pi * n / attack)
    value = [0.0] * count
    for multiple, level in PARTIALS:
        step = 2 * pi * multiple * note.pitch_hz / rate_hz
        value = [v + level * sin(step * n) for n, v in enumerate(value)]
    return [e * v for e, v in zip(envelope, value, strict=True)]


def to_wav(pcm: array, rate_hz: int = RATE_HZ) -> bytes:
    """16-bit mono PCM in a WAV container (little-endian, whatever the machine)."""
    if sys.byteorder == "big":
        pcm = array("h", pcm)
        pcm.byteswap()
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate_hz)
        wav.writeframes(pcm.tobytes())
    return out.getvalue()


def wav_bytes(cue: str, volume: float = 1.0, rate_hz: int = RATE_HZ) -> bytes:
    """One cue ("chime", "tick" or "end") as WAV bytes at `volume` (0 is silence)."""
    if cue not in TONES:
        raise ValueError(f"no sound called {cue!r}; the sounds are {', '.join(CUES)}")
    return to_wav(samples(TONES[cue], volume, rate_hz), rate_hz)
