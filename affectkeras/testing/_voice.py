"""The voice of the synthetic Aff-Wild2: a harmonic tone that follows valence and arousal.

Its loudness follows arousal (-34 dB to -8 dB) and its pitch follows valence (+-4
semitones around the person's own pitch, drawn with their look in
`affectkeras.testing._faces`); `_write_wav` writes the track the video encoder muxes in.
"""

import numpy as np


def _voice(person, frames, fps, sample_rate, rng):
    """A voice-like signal: harmonics of a vibrato pitch, loudness from arousal."""
    n = int(round(frames / fps * sample_rate))
    t = np.arange(n) / sample_rate
    frame_times = np.arange(frames) / fps
    v = np.interp(t, frame_times, person.va[:, 0])
    a = np.interp(t, frame_times, person.va[:, 1])
    look = person.look
    vibrato = 1 + 0.012 * np.sin(2 * np.pi * 5.5 * t + rng.uniform(0, 2 * np.pi))
    f0 = look["f0"] * 2 ** (v / 3) * vibrato  # +-4 semitones with valence
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    signal = np.zeros(n)
    tilt = look["tilt"] + 0.5 * (1 - a) / 2  # brighter (more high harmonics) when aroused
    norm = np.zeros(n)
    for k in range(1, 13):
        gain = k ** (-tilt) * (k * f0 < 0.45 * sample_rate)
        signal += gain * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
        norm += gain**2
    signal /= np.sqrt(norm / 2)  # unit RMS whatever the timbre
    syllables = 0.8 + 0.2 * np.sin(2 * np.pi * rng.uniform(3.0, 5.0) * t + rng.uniform(0, 2 * np.pi))
    signal = signal * syllables + 0.05 * rng.standard_normal(n)  # breath
    level_db = -34 + 26 * (a + 1) / 2  # arousal -1..1 -> -34..-8 dB RMS
    return signal * 10 ** (level_db / 20)


def _write_wav(path, signal, sample_rate):
    """Writes 16-bit mono PCM; soundfile writes no variable metadata."""
    import soundfile

    soundfile.write(str(path), np.clip(signal, -1, 1), sample_rate, subtype="PCM_16")

