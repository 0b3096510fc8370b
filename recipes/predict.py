"""Predict valence/arousal, expressions and action units for every frame of a video.

    python recipes/predict.py VIDEO --model PATH --out DIR [--batch-size N]

    # e.g. with the sample video and a trained run folder:
    python recipes/predict.py assets/astronaut.mp4 --model runs/affwild2 --out predictions

`--model` is a `.keras` file, a run folder (as `recipes/train_affwild2.py` writes it) or a
SavedModel folder from `affectkeras.export.export_saved_model`. The recipe detects, tracks
and aligns the main face at 30 fps, runs the network on the faces (and the sound, for
audio-visual networks), maps the predictions back to the video's own frames and writes:

- `DIR/<video stem>.csv`: one row per frame of the video: `frame_index, time, face_found,
  x0, y0, x1, y1, track_id`, then `valence, arousal`, one probability per expression class
  and per AU (the outputs the network has); empty fields where no face was found;
- `DIR/<stem>_va.png`: valence and arousal over time;
- `DIR/<stem>_circumplex.png`: the frames in the valence-arousal plane, coloured by time.

Each file is written under a temporary name and renamed when complete. Same as
`affectkeras predict VIDEO --model PATH --out DIR`.
"""

import dataclasses
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter

from affectkeras.inference import predict_video, write_predictions  # noqa: E402
from affectkeras.runs import config_field, parse_config, run_recipe  # noqa: E402


@dataclasses.dataclass
class PredictConfig:
    video: str = config_field("", "the video file (anything ffmpeg reads)", positional=True)
    model: str = config_field("", "a .keras file, a run folder, or a SavedModel folder")
    out: str = config_field("predictions", "output folder for the CSV and the plots")
    batch_size: int = config_field(0, "model inputs per call (frames, or windows for sequence "
                                      "networks); 0 = 32 frames or 4 windows")
    quiet: bool = config_field(False, "no progress line on stderr")


def main(argv=None):
    """Runs the recipe on the command line `argv` (default `sys.argv[1:]`).

    Returns:
        `affectkeras.inference.PredictionFiles`: the paths written.
    """
    config = parse_config(PredictConfig, argv, description=__doc__, prog="predict.py")
    if not config.model:
        raise FileNotFoundError("no model given: pass --model PATH (a .keras file, run folder or SavedModel)")
    table = predict_video(
        config.video, config.model, batch_size=config.batch_size or None, progress=not config.quiet
    )
    files = write_predictions(table, config.out, pathlib.Path(config.video).stem)
    found = table["face_found"].mean() if len(table) else 0.0
    print(f"{len(table)} frames, a face in {100 * found:.1f} % of them")
    print(f"predictions: {files.csv}")
    if files.va_plot is not None:
        print(f"plots: {files.va_plot}, {files.circumplex_plot}")
    return files


if __name__ == "__main__":
    sys.exit(run_recipe(main))
