"""Evaluate a trained network on preprocessed records with the ABAW challenges' scores.

    python recipes/evaluate.py --model runs/av_mt --records runs/av_mt/records/validation \\
        --out runs/av_mt/evaluation --edition 2025

`--model` is a `.keras` file or a run folder (its `model.keras`, else its best or last
checkpoint); `--records` a folder of records of the evaluation split, as
`affectkeras preprocess ROOT --split validation --out DIR` writes them (faces of the
network's input size; audio for the audio-visual network). Every frame of the records is
predicted exactly once (sequence networks on consecutive windows of each video) and
scored as the ABAW edition does: VA = mean CCC of valence and arousal; EXPR = macro F1
(2020 / 2021: 0.67 F1 + 0.33 accuracy); AU = mean F1 (2020 / 2021: 0.5 F1 + 0.5
accuracy); MTL = their sum when the network has all three tasks. Labels marked "not
annotated" (-5, -1) and frames without a face count in no score.

`--out` receives `metrics.json`, `report.md` (scores, per-video CCC, confusion matrix,
per-AU F1) and the PNG plots, plus the `config.json` of this evaluation.
"""

import dataclasses
import os
import sys
import typing

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter

from affectkeras.constants import ABAW_EDITIONS, INFERENCE_PRECISIONS, LATEST_EDITION  # noqa: E402
from affectkeras.runs import config_field, parse_config, run_recipe  # noqa: E402


@dataclasses.dataclass
class EvaluateConfig:
    model: str = config_field("", "trained model: a .keras file or a run folder")
    records: str = config_field("", "folder of preprocessed records of the evaluation split")
    out: str = config_field("evaluation", "output folder of metrics.json, report.md and the plots")
    tasks: typing.Tuple[str, ...] = config_field((), "tasks to score among va, expr, au; empty = the model's")
    edition: int = config_field(LATEST_EDITION, "ABAW edition whose scoring to apply", choices=tuple(ABAW_EDITIONS))
    batch_size: int = config_field(8, "sequences (sequence networks) or frames per batch")
    threshold: float = config_field(0.5, "AU probability above which an AU counts as present")
    plots: bool = config_field(True, "draw the PNG plots")
    precision: str = config_field("auto", "dtype policy to predict in: auto (bf16 where the device runs it fast), "
                                          "float32, mixed_bfloat16, mixed_float16",
                                  choices=INFERENCE_PRECISIONS)
    seed: int = config_field(0, "random seed (evaluation is deterministic; set for completeness)")


def main(argv=None):
    config = parse_config(EvaluateConfig, argv, description=__doc__, prog="evaluate.py")

    from affectkeras import evaluation
    from affectkeras.errors import InvalidArgumentError
    from affectkeras.files import write_json
    from affectkeras.runs import load_trained_model, set_seed

    for name in ("model", "records"):
        if not getattr(config, name):
            raise InvalidArgumentError(f"--{name} is required. Received: {name}=''")
    set_seed(config.seed)
    model = load_trained_model(config.model)
    result = evaluation.evaluate(
        model,
        config.records,
        tasks=config.tasks or None,
        edition=config.edition,
        batch_size=config.batch_size,
        threshold=config.threshold,
        precision=config.precision,
    )
    paths = evaluation.write_report(result, config.out, plots=config.plots)
    write_json(paths["report"].parent / "config.json", {"config": dataclasses.asdict(config)})
    print(result.summary())
    print(f"report: {paths['report']} (metrics.json, plots beside it)")
    return result


if __name__ == "__main__":
    sys.exit(run_recipe(main))
