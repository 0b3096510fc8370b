"""Audio for the A/V networks: decoding, log-mel features per video frame, augmentation.

- `features`: `SpectrogramConfig` and the log-mel spectrogram windows aligned to video
  frames (offline with librosa, and its in-graph twin);
- `decode`: audio files to mono waveforms with soundfile / ffmpeg (`load_audio`);
- `augment`: in-graph training transforms (`tf_fixed_length`, `spec_augment`, `mel_shift`,
  `time_stretch`);
- `tfio`: decoding inside `tf.data` through tensorflow-io (the optional `tfio` extra;
  imported on its own, `from affectkeras.audio import tfio`).

Importing this package does not import TensorFlow.
"""

from affectkeras.audio.augment import ALIGNMENTS, mel_shift, spec_augment, tf_fixed_length, time_stretch
from affectkeras.audio.decode import AUDIO_EXTENSIONS, load_audio, resample
from affectkeras.audio.features import (
    SpectrogramConfig,
    frame_windows,
    log_mel_spectrogram,
    mel_filterbank,
    silence_db,
    tf_frame_windows,
    tf_log_mel_spectrogram,
    video_audio_windows,
)

__all__ = [
    "ALIGNMENTS",
    "AUDIO_EXTENSIONS",
    "SpectrogramConfig",
    "frame_windows",
    "load_audio",
    "log_mel_spectrogram",
    "mel_filterbank",
    "mel_shift",
    "resample",
    "silence_db",
    "spec_augment",
    "tf_fixed_length",
    "time_stretch",
    "tf_frame_windows",
    "tf_log_mel_spectrogram",
    "video_audio_windows",
]
