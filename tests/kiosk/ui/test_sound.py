"""The kiosk's sounds (issue 5 section 3): the project's own tones, soft and click-free, played
through Kivy when there is a speaker and sent to the buzzer when there is none."""

import io
import itertools
import json
import math
import os
import subprocess
import sys
import textwrap
import wave
from array import array

import pytest

from kiosk.ui import tones
from kiosk.ui.sound import BUZZ_PATTERNS, BUZZER, SILENT, Sound, write_tones

FULL_SCALE = 32767


def parse(data: bytes) -> tuple[tuple[int, int, int, int], array]:
    """(channels, bytes per sample, rate, frames) and the samples, as the `wave` module reads them."""
    with wave.open(io.BytesIO(data), "rb") as reader:
        shape = (reader.getnchannels(), reader.getsampwidth(), reader.getframerate(), reader.getnframes())
        pcm = array("h", reader.readframes(reader.getnframes()))
    if sys.byteorder == "big":
        pcm.byteswap()
    return shape, pcm


def peak(pcm) -> int:
    return max(abs(s) for s in pcm)


def level_at(pcm, pitch_hz: float, start_s: float, length_s: float) -> float:
    """How strongly `pitch_hz` sounds in a stretch of the samples (Goertzel), 0..1 of full scale."""
    first, count = round(start_s * tones.RATE_HZ), round(length_s * tones.RATE_HZ)
    coeff = 2 * math.cos(2 * math.pi * pitch_hz / tones.RATE_HZ)
    s1 = s2 = 0.0
    for x in pcm[first:first + count]:
        s1, s2 = x + coeff * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    return 2 * math.sqrt(max(power, 0.0)) / count / FULL_SCALE


# -- the tones ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cue", tones.CUES)
def test_each_cue_is_a_16_bit_mono_wav_of_its_length(cue):
    (channels, width, rate_hz, frames), pcm = parse(tones.wav_bytes(cue, 0.6))
    assert (channels, width, rate_hz) == (1, 2, tones.RATE_HZ)
    assert frames == len(pcm) == round(tones.TONES[cue].length_s * tones.RATE_HZ)


def test_the_lengths_suit_their_use():
    length = {cue: tone.length_s for cue, tone in tones.TONES.items()}
    # A tick every second for the last three: it must be over well before the next one.
    assert length["tick"] <= 0.15
    assert 0.6 <= length["chime"] <= 1.5
    assert length["chime"] < length["end"] <= 3.0


@pytest.mark.parametrize("cue", tones.CUES)
def test_the_peak_scales_with_the_volume_and_stays_soft(cue):
    peaks = {volume: peak(parse(tones.wav_bytes(cue, volume))[1]) for volume in (0.1, 0.3, 0.6, 1.0)}
    for volume, measured in peaks.items():
        assert measured == pytest.approx(tones.TONES[cue].peak * volume * FULL_SCALE, abs=1)
    assert peaks[1.0] <= 0.5 * FULL_SCALE  # soft even at full volume: half of full scale at most


@pytest.mark.parametrize("cue", tones.CUES)
def test_volume_zero_is_silence(cue):
    _, pcm = parse(tones.wav_bytes(cue, 0.0))
    assert len(pcm) > 0
    assert not any(pcm)


@pytest.mark.parametrize("cue", tones.CUES)
def test_no_clicks_every_sound_starts_and_ends_at_zero_and_moves_smoothly(cue):
    _, pcm = parse(tones.wav_bytes(cue, 1.0))
    top = peak(pcm)
    ms = tones.RATE_HZ // 1000
    assert pcm[0] == 0 and pcm[-1] == 0
    assert peak(pcm[:ms // 2]) < 0.1 * top  # the first half millisecond rises from silence
    assert peak(pcm[-3 * ms:]) < 0.02 * top  # and the last few fade into it
    # A click is a jump: a sample far from its neighbour. A soft bell never moves that fast.
    assert max(abs(b - a) for a, b in itertools.pairwise(pcm)) < 0.3 * top


def test_the_chime_is_two_notes_the_second_one_later():
    _, pcm = parse(tones.wav_bytes("chime", 1.0))
    low, high = tones.C5, tones.G5
    assert level_at(pcm, low, 0.02, 0.12) > 10 * level_at(pcm, high, 0.02, 0.12)  # first note alone
    assert level_at(pcm, high, 0.2, 0.2) > 0.05  # then the second sounds
    assert level_at(pcm, low, 0.2, 0.2) > 0.01  # over the first, still ringing


def test_the_end_tone_is_several_notes_rising():
    _, pcm = parse(tones.wav_bytes("end", 1.0))
    notes = sorted(tones.TONES["end"].notes, key=lambda n: n.start_s)
    assert len(notes) >= 3
    assert [n.pitch_hz for n in notes] == sorted(n.pitch_hz for n in notes)
    for note in notes:
        assert level_at(pcm, note.pitch_hz, note.start_s + 0.03, 0.1) > 0.03


def test_the_tick_is_quieter_than_the_chime():
    assert tones.TONES["tick"].peak < tones.TONES["chime"].peak


@pytest.mark.parametrize("volume", [-0.1, 1.5, float("nan")])
def test_a_volume_outside_0_to_1_is_refused(volume):
    with pytest.raises(ValueError, match=r"kiosk\.volume"):
        tones.wav_bytes("chime", volume)


def test_an_unknown_cue_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="chime, tick, end"):
        tones.wav_bytes("gong")


# -- the player: files, volume and the buzzer ------------------------------------------------------


def no_speaker(path: str):
    """What Kivy's SoundLoader gives when no provider can load the file."""
    return None


def test_the_tones_are_written_once_and_are_the_full_volume_wavs(tmp_path):
    paths = write_tones(tmp_path / "cache")
    assert sorted(paths) == sorted(tones.CUES)
    for cue, path in paths.items():
        assert path.read_bytes() == tones.wav_bytes(cue, 1.0)
    written = {cue: path.stat().st_mtime_ns for cue, path in paths.items()}
    os.utime(paths["chime"], ns=(1, 1))  # a rewrite would move the time again
    again = write_tones(tmp_path / "cache")
    assert again == paths
    assert paths["chime"].stat().st_mtime_ns == 1
    assert {c: p.stat().st_mtime_ns for c, p in again.items() if c != "chime"} == \
        {c: t for c, t in written.items() if c != "chime"}
    assert not list((tmp_path / "cache").glob("*.tmp"))


def test_with_no_speaker_every_cue_goes_to_the_buzzer_as_a_pattern(tmp_path):
    buzzed = []
    sound = Sound.open(volume=0.6, buzzer=buzzed.append, folder=tmp_path, loader=no_speaker)
    assert not sound.speaker
    assert [sound.play(cue) for cue in ("chime", "tick", "tick", "end")] == [BUZZER] * 4
    assert buzzed == [list(BUZZ_PATTERNS[c]) for c in ("chime", "tick", "tick", "end")]


@pytest.mark.parametrize("cue", tones.CUES)
def test_a_buzz_pattern_is_seconds_on_and_off_starting_on_and_ending_on(cue):
    pattern = BUZZ_PATTERNS[cue]
    assert len(pattern) % 2 == 1  # on, off, on, ...: never ends with a pause
    assert all(0 < s <= 0.5 for s in pattern)
    assert sum(pattern) <= 1.0  # over before the next tick


def test_the_tick_pattern_is_the_shortest_buzz():
    assert sum(BUZZ_PATTERNS["tick"]) < min(sum(BUZZ_PATTERNS[c]) for c in ("chime", "end"))


def test_volume_zero_mutes_the_buzzer_too(tmp_path):
    buzzed = []
    sound = Sound.open(volume=0.0, buzzer=buzzed.append, folder=tmp_path, loader=no_speaker)
    assert sound.play("chime") == SILENT
    assert sound.play("end", 0.0) == SILENT
    assert buzzed == []
    assert sound.play("end", 0.5) == BUZZER  # the volume of the call wins (the staff screen's)


def test_no_speaker_and_no_buzzer_is_silent(tmp_path):
    sound = Sound.open(folder=tmp_path, loader=no_speaker)
    assert sound.play("chime") == SILENT


def test_a_buzzer_set_after_opening_is_used(tmp_path):
    sound = Sound.open(folder=tmp_path, loader=no_speaker)
    buzzed = []
    sound.buzzer = buzzed.append  # the app that owns the link to the controller comes later
    assert sound.play("tick") == BUZZER
    assert buzzed == [list(BUZZ_PATTERNS["tick"])]


def test_a_failing_buzzer_never_takes_the_kiosk_down(tmp_path, caplog):
    def broken(pattern):
        raise ConnectionError("controller gone")

    sound = Sound.open(folder=tmp_path, buzzer=broken, loader=no_speaker)
    assert sound.play("chime") == SILENT
    assert "buzzer failed" in caplog.text


def test_an_unwritable_cache_falls_back_to_the_buzzer(tmp_path, caplog):
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the folder should be")
    buzzed = []
    sound = Sound.open(folder=blocked / "sounds", buzzer=buzzed.append)
    assert not sound.speaker
    assert sound.play("chime") == BUZZER
    assert "cache folder" in caplog.text


def test_an_unknown_cue_is_refused(tmp_path):
    with pytest.raises(ValueError, match="chime, tick, end"):
        Sound.open(folder=tmp_path, loader=no_speaker).play("gong")


# -- the real Kivy audio, in a process of its own (SDL's mixer opens once per process) -------------

PLAYER = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from kiosk.ui.sound import Sound
    buzzed = []
    sound = Sound.open(volume=0.6, buzzer=buzzed.append, folder=Path(sys.argv[1]))
    played = [sound.play(cue) for cue in ("chime", "tick", "end")]
    lengths = {cue: s.length for cue, s in (sound.sounds or {}).items()}
    print(json.dumps({"speaker": sound.speaker, "played": played, "buzzed": buzzed,
                      "lengths": lengths}))
""")


def run_player(tmp_path, audio_driver: str) -> dict:
    env = dict(os.environ, SDL_AUDIODRIVER=audio_driver)
    done = subprocess.run([sys.executable, "-c", PLAYER, str(tmp_path)], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_kivy_plays_the_tones_through_an_audio_device(tmp_path):
    # SDL's dummy driver is a real device to the mixer that plays into nothing.
    result = run_player(tmp_path, "dummy")
    assert result["speaker"] is True
    assert result["played"] == ["speaker"] * 3
    assert result["buzzed"] == []
    for cue, length_s in result["lengths"].items():
        assert length_s == pytest.approx(tones.TONES[cue].length_s, abs=0.01)


def test_with_no_audio_device_kivy_cannot_load_and_the_buzzer_is_used(tmp_path):
    # An audio driver SDL does not have: SDL's audio fails to start, as on a Pi with no sound card.
    result = run_player(tmp_path, "footbath-no-such-driver")
    assert result["speaker"] is False
    assert result["played"] == ["buzzer"] * 3
    assert result["buzzed"] == [list(BUZZ_PATTERNS[c]) for c in ("chime", "tick", "end")]
