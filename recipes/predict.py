"""Predict expressions (and valence/arousal and action units) for every frame of a video.

    python recipes/predict.py VIDEO --out DIR [--model PATH] [--batch-size N]

    # e.g. the sample video with the expression model that ships with affectkeras:
    python recipes/predict.py assets/astronaut.mp4 --out predictions
    # or with a trained run folder:
    python recipes/predict.py assets/astronaut.mp4 --model runs/affwild2 --out predictions

`--model` is a `.keras` file, a run folder (as `recipes/train_affwild2.py` writes it), a
SavedModel folder from `affectkeras.export.export_saved_model`, or a network preset shipped
with affectkeras; by default `ferplus`, the FER+ expression network (`affectkeras.weights`).
The recipe detects, tracks and aligns the main face at 30 fps, runs the network on the
faces (and the sound, for audio-visual networks), maps the predictions back to the
video's own frames and writes:

- `DIR/<video stem>.csv`: one row per frame of the video: `frame_index, time, face_found,
  x0, y0, x1, y1, track_id`, then `valence, arousal`, one probability per expression class
  and per AU (the outputs the network has); empty fields where no face was found;
- `DIR/<stem>_expressions.png`: the expression probabilities over time (networks with
  expressions);
- `DIR/<stem>_va.png` and `DIR/<stem>_circumplex.png`: valence and arousal over time and
  in the valence-arousal plane (networks with valence/arousal).

Each file is written under a temporary name and renamed when complete. Same as
`affectkeras predict VIDEO --out DIR [--model PATH]`.
"""

import dataclasses
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter

from affectkeras.constants import INFERENCE_PRECISIONS  # noqa: E402
from affectkeras.inference import predict_video, write_predictions  # noqa: E402
from affectkeras.runs import config_field, parse_config, run_recipe  # noqa: E402


@dataclasses.dataclass
class PredictConfig:
    video: str = config_field("", "the video file (anything ffmpeg reads)", positional=True)
    model: str = config_field("ferplus", "a .keras file, a run folder, a SavedModel folder, or a network preset "
                                         "shipped with affectkeras (ferplus: expressions from FER+)")
    out: str = config_field("predictions", "output folder for the CSV and the plots")
    batch_size: int = config_field(0, "faces per network call (windows for SavedModels that run on windows "
                                      "only); 0 = 32 faces or 4 windows")
    faces: str = config_field("main", "main: the main subject's face; all: every face (track_id names the person)",
                              choices=("main", "all"))
    precision: str = config_field("auto", "dtype policy of the network: auto (bf16 where the device runs it fast), "
                                          "float32, mixed_bfloat16, mixed_float16",
                                  choices=INFERENCE_PRECISIONS)
    quiet: bool = config_field(False, "no progress line on stderr")


def main(argv=None):
    """Runs the recipe on the command line `argv` (default `sys.argv[1:]`).

    Returns:
        `affectkeras.inference.PredictionFiles`: the paths written.
    """
    config = parse_config(PredictConfig, argv, description=__doc__, prog="predict.py")
    table = predict_video(
        config.video, config.model, batch_size=config.batch_size or None, progress=not config.quiet,
        faces=config.faces, precision=config.precision,
    )
    files = write_predictions(table, config.out, pathlib.Path(config.video).stem)
    found = table["face_found"].mean() if len(table) else 0.0
    print(f"{len(table)} frames, a face in {100 * found:.1f} % of them")
    print(f"predictions: {files.csv}")
    plots = [path for path in (files.va_plot, files.circumplex_plot, files.expression_plot) if path is not None]
    if plots:
        print(f"plots: {', '.join(map(str, plots))}")
    return files


if __name__ == "__main__":
    sys.exit(run_recipe(main))
