"""Makes `assets/astronaut.mp4`: a 5 s talking-head-like sample video with a real face.

    python assets/make_sample_video.py [--out assets/astronaut.mp4]

The picture is `skimage.data.astronaut()` (Eileen Collins, NASA, public domain; scikit-image
is a test dependency), animated with a slow zoom, a small pan and a slight rotation so the
face moves as in a real video; the dlib HOG detector finds it in every frame. The sound is
a synthetic voice-like signal at 16 kHz: a harmonic tone (fundamental 110-220 Hz, gliding
like intonation) shaped by two formant-like resonances and cut into syllables of 0.15-0.3 s
by an amplitude envelope, with a little breath noise and pauses between "phrases".

Deterministic: the animation and the signal are closed-form (the noise has a fixed seed) and
the encoders run single-threaded in bit-exact mode, so the same ffmpeg binary gives the
same file. 320x320 at 30 fps, H.264 (crf 30) + AAC 32 kb/s mono in mp4: about 150 KB.
"""

import argparse
import os
import pathlib
import subprocess
import tempfile
import wave

import imageio_ffmpeg
import numpy as np
from PIL import Image
from skimage import data

FPS = 30
SECONDS = 5
SIZE = 320
SAMPLE_RATE = 16000
# Centre of the face in the 512x512 photo (x, y) and the side of the source square shown.
FACE_CENTER = (238.0, 135.0)
VIEW = 300.0


def frame_at(photo, index):
    """Frame `index` of the animation: zoom 1.0 -> 1.2, pan of ~15 px, rotation within +-6 deg."""
    t = index / (FPS * SECONDS)  # 0 .. 1
    zoom = 1.0 + 0.2 * t
    angle = np.deg2rad(6.0 * np.sin(2 * np.pi * t))
    cx = FACE_CENTER[0] + 15.0 * np.sin(np.pi * t)
    cy = FACE_CENTER[1] + 20.0 + 8.0 * np.sin(2 * np.pi * t)  # keep the chin in view
    # Output pixel (u, v) -> source pixel: centre, scale, rotate, move to (cx, cy).
    scale = VIEW / zoom / SIZE
    cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
    u0 = v0 = SIZE / 2
    coefficients = (cos, -sin, cx - cos * u0 + sin * v0, sin, cos, cy - sin * u0 - cos * v0)
    return photo.transform((SIZE, SIZE), Image.AFFINE, coefficients, resample=Image.BICUBIC)


def voice(seconds=SECONDS, sample_rate=SAMPLE_RATE, seed=0):
    """A voice-like float32 signal in [-1, 1]: gliding harmonics, formants, syllables, pauses."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    f0 = 160 + 45 * np.sin(2 * np.pi * 0.35 * t) + 15 * np.sin(2 * np.pi * 1.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    signal = np.zeros_like(t)
    for k in range(1, 25):  # harmonics below 4 kHz, weighted by two formant bumps
        frequency = k * f0
        gain = np.exp(-(((frequency - 700) / 300) ** 2)) + 0.6 * np.exp(-(((frequency - 1800) / 500) ** 2))
        signal += (gain + 0.15 / k) * np.sin(k * phase) * (frequency < sample_rate / 2 - 500)
    syllables = np.clip(np.sin(2 * np.pi * 3.7 * t + 1.3 * np.sin(2 * np.pi * 0.5 * t)), 0, None) ** 0.7
    phrases = (np.sin(2 * np.pi * 0.3 * t - 0.5) > -0.6).astype(float)  # pauses between phrases
    envelope = np.convolve(syllables * phrases, np.hanning(321) / np.hanning(321).sum(), mode="same")
    signal = signal * envelope + 0.02 * rng.standard_normal(len(t)) * envelope
    return (0.7 * signal / np.max(np.abs(signal))).astype(np.float32)


def write_wav(path, signal, sample_rate):
    with wave.open(str(path), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(sample_rate)
        file.writeframes((signal * 32767).astype("<i2").tobytes())


def make_sample_video(out):
    """Writes the sample video to `out` (mp4) and returns its path."""
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    photo = Image.fromarray(data.astronaut())
    with tempfile.TemporaryDirectory() as scratch:
        wav = pathlib.Path(scratch) / "voice.wav"
        write_wav(wav, voice(), SAMPLE_RATE)
        partial = out.with_name(f".{out.name}.partial.mp4")
        command = [
            imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{SIZE}x{SIZE}", "-r", str(FPS), "-i", "-",
            "-i", str(wav),
            "-map", "0:v", "-map", "1:a", "-map_metadata", "-1",
            "-c:v", "libx264", "-preset", "medium", "-crf", "30", "-pix_fmt", "yuv420p",
            "-threads", "1", "-flags:v", "+bitexact",
            "-c:a", "aac", "-b:a", "32k", "-ac", "1", "-flags:a", "+bitexact",
            "-fflags", "+bitexact", "-movflags", "+faststart", "-shortest", str(partial),
        ]
        process = subprocess.Popen(command, stdin=subprocess.PIPE)
        try:
            for index in range(FPS * SECONDS):
                process.stdin.write(np.asarray(frame_at(photo, index), np.uint8).tobytes())
        finally:
            process.stdin.close()
        if process.wait() != 0:
            raise RuntimeError(f"ffmpeg failed with code {process.returncode}")
        os.replace(partial, out)  # complete file only
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(pathlib.Path(__file__).with_name("astronaut.mp4")),
                        help="output mp4 file (default: assets/astronaut.mp4)")
    args = parser.parse_args(argv)
    path = make_sample_video(args.out)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
