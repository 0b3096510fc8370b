"""Export a trained network for deployment: SavedModel, TFLite where it works, a description.

    python recipes/export.py --model runs/mt_vgg --out deploy/mt_vgg [--no-tflite] [--overwrite]

`--model` is a `.keras` file or a run folder (its `model.keras`, else its best or last
checkpoint). `--out` receives:

- `saved_model/`: a TensorFlow SavedModel whose `serving_default` signature takes raw
  uint8 `faces` (and float32 log-mel `audio` windows for the audio-visual network) and
  returns `valence_arousal`, `expression`, `action_units`. ArcFace networks are exported
  without their training-only labels input, with softmax expression probabilities.
- `model.tflite`: per-frame networks only; sequence (RNN) networks are skipped, because
  their recurrent loops need TF Select ops that the builtin TFLite runtime lacks.
- `export.json`: the inputs and outputs (shape, dtype, class / AU names), the signature
  name, and why TFLite was skipped, if it was.

An existing, non-empty `--out` is refused unless `--overwrite` is given.
"""

import dataclasses
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter

from affectkeras.runs import config_field, parse_config, run_recipe  # noqa: E402


@dataclasses.dataclass
class ExportConfig:
    model: str = config_field("", "trained model: a .keras file or a run folder")
    out: str = config_field("export", "output folder (saved_model/, model.tflite, export.json)")
    tflite: bool = config_field(True, "also write model.tflite (per-frame networks)")
    overwrite: bool = config_field(False, "replace an earlier export in --out")
    seed: int = config_field(0, "random seed (export is deterministic; set for completeness)")


def main(argv=None):
    config = parse_config(ExportConfig, argv, description=__doc__, prog="export.py")

    from affectkeras.errors import InvalidArgumentError
    from affectkeras.export import export_model
    from affectkeras.runs import load_trained_model, set_seed

    if not config.model:
        raise InvalidArgumentError("--model is required. Received: model=''")
    set_seed(config.seed)
    model = load_trained_model(config.model)
    description = export_model(model, config.out, tflite=config.tflite, overwrite=config.overwrite)
    print(f"saved model: {os.path.join(config.out, description['saved_model'])}")
    if description["tflite"]:
        print(f"tflite: {os.path.join(config.out, description['tflite'])}")
    else:
        print(f"tflite skipped: {description['tflite_skipped']}")
    return description


if __name__ == "__main__":
    sys.exit(run_recipe(main))
