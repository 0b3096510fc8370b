"""Evaluation and export: ABAW scores vs independent references, every frame once, reports,
the evaluate / export recipes and the `affectkeras evaluate` / `export` subcommands.

One tiny synthetic Aff-Wild2 (3 videos x 40 frames) is written and preprocessed once per
module (validation split, 32 px faces, audio); two tiny models saved as `.keras` files
(a sequence A/V network, a per-frame MT-VGG) serve every model test.
"""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from sklearn.metrics import confusion_matrix, f1_score

import affectkeras
from affectkeras import cli, evaluation
from affectkeras.constants import AU_OUTPUT, AUS_12, EXPR_OUTPUT, VA_OUTPUT, expression_names
from affectkeras.data.preprocess import run_preprocess
from affectkeras.errors import DataFormatError, InvalidArgumentError
from affectkeras.export import SIGNATURE
from affectkeras.testing import write_dataset
from tests.conftest import REPO, load_recipe

FACE = 32
SEQ = 16  # 40 frames per video: windows of 16, 16 and 8 (+ 8 padding frames)
RNG = np.random.default_rng(0)


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("affwild2") / "synth", num_videos=3, frames=40, size=48, workers=1)


@pytest.fixture(scope="module")
def records(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("records") / "validation"
    result = run_preprocess(dataset.root, out, split="validation", size=FACE, progress=None)
    assert sorted(result.done) == sorted(dataset.validation) and not result.failed
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Tiny networks saved as `.keras` files: a sequence A/V network and a per-frame one."""
    folder = tmp_path_factory.mktemp("models")
    sequence = affectkeras.build_av_mt_vgg_rnn(width=0.05, rnn_units=8, rnn_layers=1, sequence_length=SEQ,
                                               input_size=FACE)
    frame = affectkeras.build_mt_vgg(width=0.05, input_size=FACE)
    paths = {"sequence": folder / "av.keras", "frame": folder / "mt_vgg.keras"}
    sequence.save(paths["sequence"])
    frame.save(paths["frame"])
    return {"sequence": sequence, "frame": frame, "paths": paths}


@pytest.fixture(scope="module")
def evaluated(models, records):
    return evaluation.evaluate(models["sequence"], records, batch_size=2)


def annotated_labels(dataset, name):
    """The annotation files' labels of video `name` by 1-based frame, read line by line."""
    files = dataset.annotation_files
    labels = {}
    for task in ("VA", "EXPR", "AU"):
        if name in files[task]:
            lines = files[task][name].read_text().splitlines()[1:]
            labels[task] = {k: [float(v) for v in line.split(",")] for k, line in enumerate(lines, start=1)}
    return labels


# ---------------------------------------------------------------------------- scores vs references


def reference_ccc(x, y):
    """CCC from Pearson's r: 2 r s_x s_y / (s_x^2 + s_y^2 + (mean_x - mean_y)^2)."""
    r = np.corrcoef(x, y)[0, 1]
    return 2 * r * x.std() * y.std() / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)


def random_videos(num_classes=8, num_aus=12):
    """Predictions and targets of three videos, with sentinels as in the annotation files."""
    videos = {}
    for index, frames in enumerate((50, 70, 30)):
        va_true = RNG.uniform(-1, 1, (frames, 2))
        va_pred = np.clip(0.6 * va_true + RNG.normal(0, 0.3, (frames, 2)), -1, 1)
        va_true[RNG.random(frames) < 0.2] = -5.0
        expr_true = RNG.integers(0, num_classes, frames)
        expr_pred = RNG.dirichlet(np.ones(num_classes), frames)
        expr_pred[np.arange(frames), expr_true] += RNG.random(frames)  # better than chance
        expr_true[RNG.random(frames) < 0.2] = -1
        au_true = RNG.integers(0, 2, (frames, num_aus))
        au_pred = np.clip(0.5 * au_true + RNG.random((frames, num_aus)) * 0.7, 0, 1)
        au_true[RNG.random((frames, num_aus)) < 0.15] = -1
        videos[f"video{index}"] = evaluation.VideoPredictions(
            video=f"video{index}",
            frame_index=np.arange(1, frames + 1),
            face_found=np.ones(frames, bool),
            predictions={VA_OUTPUT: va_pred, EXPR_OUTPUT: expr_pred, AU_OUTPUT: au_pred},
            targets={VA_OUTPUT: va_true, EXPR_OUTPUT: expr_true, AU_OUTPUT: au_true},
        )
    return videos


@pytest.mark.parametrize("edition, num_classes", [(2025, 8), (2021, 7)])
def test_scores_match_numpy_and_sklearn(edition, num_classes):
    videos = random_videos(num_classes=num_classes)
    result = evaluation.score_predictions(videos, edition=edition)
    stack = {kind: {name: np.concatenate([getattr(v, kind)[name] for v in videos.values()])
                    for name in (VA_OUTPUT, EXPR_OUTPUT, AU_OUTPUT)} for kind in ("predictions", "targets")}

    va_true, va_pred = stack["targets"][VA_OUTPUT], stack["predictions"][VA_OUTPUT]
    keep = va_true[:, 0] != -5
    valence = reference_ccc(va_true[keep, 0], va_pred[keep, 0])
    arousal = reference_ccc(va_true[keep, 1], va_pred[keep, 1])
    assert result.scores["va"]["valence"] == pytest.approx(valence, abs=1e-12)
    assert result.scores["va"]["arousal"] == pytest.approx(arousal, abs=1e-12)
    assert result.scores["va"]["score"] == pytest.approx((valence + arousal) / 2, abs=1e-12)
    assert result.counts["va"] == keep.sum()
    for name, video in videos.items():
        keep_v = video.targets[VA_OUTPUT][:, 0] != -5
        expected = reference_ccc(video.targets[VA_OUTPUT][keep_v, 1], video.predictions[VA_OUTPUT][keep_v, 1])
        assert result.per_video[name]["arousal"] == pytest.approx(expected, abs=1e-12)
        assert result.per_video[name]["va_frames"] == keep_v.sum()

    expr_true, expr_pred = stack["targets"][EXPR_OUTPUT], stack["predictions"][EXPR_OUTPUT].argmax(-1)
    keep = expr_true != -1
    f1 = f1_score(expr_true[keep], expr_pred[keep], average="macro")
    accuracy = np.mean(expr_true[keep] == expr_pred[keep])
    weights = (0.67, 0.33) if edition == 2021 else (1.0, 0.0)
    assert result.scores["expr"]["f1"] == pytest.approx(f1, abs=1e-12)
    assert result.scores["expr"]["accuracy"] == pytest.approx(accuracy, abs=1e-12)
    assert result.scores["expr"]["score"] == pytest.approx(weights[0] * f1 + weights[1] * accuracy, abs=1e-12)
    expected_matrix = confusion_matrix(expr_true[keep], expr_pred[keep], labels=range(num_classes))
    np.testing.assert_array_equal(result.confusion_matrix, expected_matrix)
    assert result.expression_names == expression_names(num_classes)
    assert result.counts["expr"] == keep.sum()

    au_true, au_pred = stack["targets"][AU_OUTPUT], stack["predictions"][AU_OUTPUT] >= 0.5
    per_au = [f1_score(au_true[au_true[:, k] != -1, k], au_pred[au_true[:, k] != -1, k]) for k in range(12)]
    assert list(result.per_au_f1) == list(AUS_12)
    np.testing.assert_allclose(list(result.per_au_f1.values()), per_au, atol=1e-12)
    au_accuracy = np.mean(au_true[au_true != -1] == au_pred[au_true != -1])
    weights = (0.5, 0.5) if edition == 2021 else (1.0, 0.0)
    assert result.scores["au"]["score"] == pytest.approx(weights[0] * np.mean(per_au) + weights[1] * au_accuracy)
    assert result.scores["mtl"]["score"] == pytest.approx((valence + arousal) / 2 + f1 + np.mean(per_au))
    assert result.counts["frames"] == 150 and result.counts["videos"] == 3
    assert "VA" in result.summary() and "EXPR" in result.summary()


def test_scores_of_a_task_without_labels_are_undefined_not_zero():
    videos = random_videos()
    for video in videos.values():
        video.targets[VA_OUTPUT][:] = -5.0
    result = evaluation.score_predictions(videos)
    assert result.scores["va"]["score"] is None and result.counts["va"] == 0
    assert "mtl" not in result.scores  # needs every task
    assert json.loads(json.dumps(result.to_dict()))["scores"]["va"]["valence"] is None
    for video in videos.values():  # no expression label either (Aff-Wild2's VA videos): no crash
        video.targets[EXPR_OUTPUT][:] = -1
    result = evaluation.score_predictions(videos)
    assert result.scores["expr"]["score"] is None and result.counts["expr"] == 0
    assert result.confusion_matrix is None and result.scores["au"]["score"] is not None


def test_expression_labels_outside_the_model_classes_are_refused():
    videos = random_videos(num_classes=7)
    videos["video0"].targets[EXPR_OUTPUT][0] = 7  # "Other" in 8-class records, a 7-class model
    with pytest.raises(InvalidArgumentError, match="label=7"):
        evaluation.score_predictions(videos, edition=2021)


def test_nan_targets_and_unannotated_aus_are_left_out_not_crashing():
    videos = random_videos()
    video = videos["video0"]
    expr = video.targets[EXPR_OUTPUT].astype(float)
    expr[:5] = np.nan  # NaN = not annotated, not a huge negative "class"
    video.targets[EXPR_OUTPUT] = expr
    for item in videos.values():
        item.targets[AU_OUTPUT][:, 3] = -1  # nobody annotated AU6
    result = evaluation.score_predictions(videos)
    expr_true = np.concatenate([v.targets[EXPR_OUTPUT] for v in videos.values()])
    assert result.counts["expr"] == np.sum((expr_true != -1) & ~np.isnan(expr_true))
    assert result.confusion_matrix.sum() == result.counts["expr"]
    f1 = result.to_dict()["per_au_f1"]
    assert f1["AU6"] is None and None not in np.delete(list(f1.values()), 3)
    assert result.scores["au"]["f1"] == pytest.approx(np.mean(np.delete(list(result.per_au_f1.values()), 3)))


@pytest.mark.parametrize("threshold", [0.0, 1.0, 1.5, float("nan")])
def test_au_threshold_outside_0_1_is_refused_before_predicting(threshold):
    with pytest.raises(InvalidArgumentError, match="threshold="):
        evaluation.score_predictions(random_videos(), threshold=threshold)
    with pytest.raises(InvalidArgumentError, match="threshold="):  # no model, no records: checked first
        evaluation.evaluate(None, "no/such/records", threshold=threshold)


def test_check_records_names_a_path_that_holds_no_tfrecord_data(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("these are not records\n" * 3)
    with pytest.raises(DataFormatError, match="notes.txt: not a TFRecord file"):
        evaluation.check_records(text)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "readme.txt").write_text("no shard here")
    with pytest.raises(FileNotFoundError, match="folder"):
        evaluation.check_records(folder)
    (folder / "shard.tfrecord").write_text("text under a shard's name")
    with pytest.raises(DataFormatError, match="shard.tfrecord: not a TFRecord file"):
        evaluation.check_records(folder)
    (folder / "shard.tfrecord").write_bytes(b"")
    with pytest.raises(DataFormatError, match="folder: holds no record"):
        evaluation.check_records(folder)


# ---------------------------------------------------------------------------- models on records


def test_sequence_model_sees_every_frame_once_aligned_with_the_annotation_files(evaluated, dataset):
    videos = evaluated.videos
    assert sorted(videos) == sorted(dataset.validation)
    expected_counts = {"va": 0, "expr": 0, "au": 0}
    for name, video in videos.items():
        np.testing.assert_array_equal(video.frame_index, np.arange(1, dataset.frames + 1))  # no padding, no repeat
        missing = set(dataset.missing_frames[name])
        assert {int(k) for k in video.frame_index[~video.face_found]} == missing
        labels = annotated_labels(dataset, name)
        for row, k in enumerate(video.frame_index.tolist()):
            va, expr, aus = labels["VA"][k], int(labels["EXPR"][k][0]), labels["AU"][k]
            if k in missing:  # no face: every label masked, whatever the files say
                assert video.targets[VA_OUTPUT][row].tolist() == [-5.0, -5.0]
                assert video.targets[EXPR_OUTPUT][row] == -1 and set(video.targets[AU_OUTPUT][row]) == {-1}
                continue
            np.testing.assert_allclose(video.targets[VA_OUTPUT][row], va, atol=1e-6)
            assert video.targets[EXPR_OUTPUT][row] == expr
            assert video.targets[AU_OUTPUT][row].tolist() == aus
            expected_counts["va"] += va[0] != -5
            expected_counts["expr"] += expr != -1
            expected_counts["au"] += any(a != -1 for a in aus)
    assert evaluated.counts["frames"] == dataset.frames * len(dataset.validation)
    assert evaluated.counts["faces"] == evaluated.counts["frames"] - sum(
        len(dataset.missing_frames[n]) for n in dataset.validation)
    assert {task: evaluated.counts[task] for task in expected_counts} == expected_counts
    assert set(evaluated.scores) == {"va", "expr", "au", "mtl"}
    assert evaluated.edition == max(affectkeras.constants.ABAW_EDITIONS)


def test_predictions_match_the_model_on_the_same_window(evaluated, models, records):
    from affectkeras.data.dataset import make_dataset

    inputs, _ = next(iter(make_dataset(records, seq_len=SEQ, batch_size=1, modalities=("faces", "audio"),
                                       face_size=FACE, shuffle=False, deterministic=True, include_metadata=True,
                                       skip_unlabeled=False)))
    expected = models["sequence"].predict_on_batch({"faces": inputs["faces"], "audio": inputs["audio"]})
    video = evaluated.videos[inputs["video"][0, 0].numpy().decode()]
    rows = np.searchsorted(video.frame_index, inputs["frame_index"][0].numpy())
    np.testing.assert_allclose(video.predictions[VA_OUTPUT][rows], expected[VA_OUTPUT][0], atol=1e-5)


def test_per_frame_arcface_model_is_evaluated_on_the_same_frames(evaluated, records):
    model = affectkeras.build_mt_arcres(width=0.05, input_size=FACE, tasks=("expr", "au"))
    result = evaluation.evaluate(model, records, batch_size=32, edition=2022)
    assert result.tasks == ("expr", "au") and set(result.scores) == {"expr", "au"}
    for task in ("frames", "faces", "expr", "au"):
        assert result.counts[task] == evaluated.counts[task], task
    with pytest.raises(InvalidArgumentError, match="no 'valence_arousal' output"):
        evaluation.predict_records(model, records, tasks=("va",))


# ---------------------------------------------------------------------------- report


def test_report_files_are_complete_and_json_round_trips(evaluated, tmp_path):
    paths = evaluation.write_report(evaluated, tmp_path / "report")
    names = sorted(path.name for path in (tmp_path / "report").iterdir())
    assert names == ["au_f1.png", "confusion_matrix.png", "metrics.json", "per_video_ccc.png", "report.md"]
    assert json.loads(paths["metrics"].read_text()) == evaluated.to_dict()
    for name in ("au_f1", "confusion_matrix", "per_video_ccc"):
        with Image.open(paths[name]) as image:
            assert image.format == "PNG" and image.size[0] > 100
    report = paths["report"].read_text()
    for text in ("| VA |", "| MTL |", "## Per-video CCC", "| Anger |", "| AU26 |", "(confusion_matrix.png)",
                 *evaluated.videos):
        assert text in report, text


def test_report_of_a_va_only_result_draws_only_the_va_plot(tmp_path):
    videos = random_videos()
    for video in videos.values():
        for outputs in (video.predictions, video.targets):
            del outputs[EXPR_OUTPUT], outputs[AU_OUTPUT]
    result = evaluation.score_predictions(videos)
    evaluation.write_report(result, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "per_video_ccc.png", "report.md"]
    assert "confusion" not in (tmp_path / "report.md").read_text()


def test_report_removes_the_plots_of_an_earlier_evaluation(tmp_path):
    videos = random_videos(num_classes=7)  # EXPR only: one plot to draw
    for video in videos.values():
        for outputs in (video.predictions, video.targets):
            del outputs[VA_OUTPUT], outputs[AU_OUTPUT]
    labelled = evaluation.score_predictions(videos, edition=2021)
    evaluation.write_report(labelled, tmp_path)
    assert (tmp_path / "confusion_matrix.png").is_file()
    for video in videos.values():  # the next evaluation has no expression label: no confusion matrix
        video.targets[EXPR_OUTPUT][:] = -1
    paths = evaluation.write_report(evaluation.score_predictions(videos, edition=2021), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "report.md"]
    assert "confusion_matrix" not in paths and "confusion" not in paths["report"].read_text()
    (tmp_path / "confusion_matrix.png").write_bytes(b"an earlier plot")
    evaluation.write_report(labelled, tmp_path, plots=False)  # no plot asked: none may be left either
    assert not list(tmp_path.glob("*.png"))


def test_report_into_an_existing_file_is_refused_naming_it(tmp_path):
    result = evaluation.score_predictions(random_videos())
    (tmp_path / "taken").write_text("a file")
    with pytest.raises(InvalidArgumentError, match="taken is an existing file"):
        evaluation.write_report(result, tmp_path / "taken", plots=False)
    with pytest.raises(InvalidArgumentError, match="taken is an existing file"):
        evaluation.write_report(result, tmp_path / "taken" / "report", plots=False)


# ---------------------------------------------------------------------------- recipes


@pytest.mark.slow  # evaluates (and exports) a freshly loaded sequence network: ~15 s on 2 cores
def test_evaluate_recipe_writes_the_report(models, records, evaluated, tmp_path, capsys):
    out = tmp_path / "evaluation"
    result = load_recipe("evaluate").main(["--model", str(models["paths"]["sequence"]), "--records", str(records),
                                           "--out", str(out), "--batch-size", "2", "--tasks", "va,au",
                                           "--precision", "float32"])
    assert result.tasks == ("va", "au")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["scores"]["va"] == pytest.approx(evaluated.scores["va"])  # same model, same frames
    fast = load_recipe("evaluate").main(["--model", str(models["paths"]["sequence"]), "--records", str(records),
                                         "--out", str(tmp_path / "bf16"), "--batch-size", "2", "--tasks", "va",
                                         "--precision", "mixed_bfloat16", "--no-plots"])
    assert fast.scores["va"]["score"] == pytest.approx(evaluated.scores["va"]["score"], abs=0.02)
    assert (out / "report.md").is_file() and (out / "config.json").is_file()
    assert "ABAW 2025" in capsys.readouterr().out


def test_export_recipe_saved_model_matches_keras_and_tflite_is_written(models, tmp_path):
    recipe = load_recipe("export")
    out = tmp_path / "export"
    description = recipe.main(["--model", str(models["paths"]["frame"]), "--out", str(out)])
    assert description["tflite"] == "model.tflite" and (out / "model.tflite").is_file()
    assert json.loads((out / "export.json").read_text()) == description
    assert description["inputs"]["faces"] == {"shape": [None, FACE, FACE, 3], "dtype": "uint8"}
    assert description["outputs"]["expression"]["labels"][1] == "Anger"
    served = tf.saved_model.load(str(out / "saved_model")).signatures[SIGNATURE]
    faces = RNG.integers(0, 256, (3, FACE, FACE, 3)).astype("uint8")
    got = served(faces=tf.constant(faces))
    expected = models["frame"].predict_on_batch({"faces": faces})
    assert set(got) == set(expected)
    for name in expected:
        np.testing.assert_allclose(got[name].numpy(), expected[name], atol=1e-5)
    with pytest.raises(InvalidArgumentError, match="overwrite"):
        recipe.main(["--model", str(models["paths"]["frame"]), "--out", str(out)])
    description = recipe.main(["--model", str(models["paths"]["frame"]), "--out", str(out), "--overwrite",
                               "--no-tflite"])
    assert description["tflite"] is None and not (out / "model.tflite").exists()  # no stale file


# ---------------------------------------------------------------------------- command line


@pytest.mark.slow  # evaluates (and exports) a freshly loaded sequence network: ~15 s on 2 cores
def test_cli_evaluate_and_export(models, records, tmp_path, capsys):
    out = tmp_path / "evaluation"
    code = cli.main(["evaluate", "--model", str(models["paths"]["sequence"]), "--records", str(records),
                     "--out", str(out), "--batch-size", "2", "--tasks", "va", "--edition", "2021", "--no-plots"])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["edition"] == 2021 and set(metrics["scores"]) == {"va"}
    assert not list(out.glob("*.png"))
    code = cli.main(["export", "--model", str(models["paths"]["sequence"]), "--out", str(tmp_path / "export")])
    assert code == 0
    printed = capsys.readouterr().out
    assert "tflite skipped:" in printed and "sequence (RNN) network" in printed
    description = json.loads((tmp_path / "export" / "export.json").read_text())
    assert description["kind"] == "sequence" and set(description["inputs"]) == {"faces", "audio"}
    assert not (tmp_path / "export" / "model.tflite").exists()
    assert cli.main(["export", "--model", str(models["paths"]["sequence"]), "--out", str(tmp_path / "export")]) == 2


def one_line_error(capsys):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_cli_bad_input_is_one_line_and_exit_code_2(models, records, tmp_path, capsys):
    model = str(models["paths"]["sequence"])
    base = ["--out", str(tmp_path / "out")]
    assert cli.main(["evaluate", "--model", str(tmp_path / "none.keras"), "--records", str(records), *base]) == 2
    assert "none.keras" in one_line_error(capsys)
    (tmp_path / "notes.txt").write_text("not a model")
    assert cli.main(["evaluate", "--model", str(tmp_path / "notes.txt"), "--records", str(records), *base]) == 2
    assert "notes.txt" in one_line_error(capsys)
    assert cli.main(["evaluate", "--model", model, "--records", str(tmp_path / "missing"), *base]) == 2
    assert "missing" in one_line_error(capsys)
    assert cli.main(["export", "--model", str(tmp_path / "notes.txt"), *base]) == 2
    assert "notes.txt" in one_line_error(capsys)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["evaluate", "--model", model, "--records", str(records), *base, "--edition", "1999"])
    assert exit_info.value.code == 2 and "--edition" in one_line_error(capsys)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["evaluate", "--model", model, "--records", str(records), *base, "--tasks", "pose"])
    assert exit_info.value.code == 2 and "--tasks" in one_line_error(capsys)
    assert not (tmp_path / "out").exists()


def test_cli_evaluate_refuses_bad_threshold_out_and_records_in_one_line(tmp_path, capsys):
    (tmp_path / "taken").write_text("a file")
    (tmp_path / "notes.txt").write_text("not records")
    model = str(tmp_path / "never_loaded.keras")  # each error comes before the model is loaded
    base = ["evaluate", "--model", model, "--records", str(tmp_path / "notes.txt")]
    for threshold in ("1.5", "0", "nan", "half"):
        with pytest.raises(SystemExit) as exit_info:
            cli.main([*base, "--out", str(tmp_path / "out"), "--threshold", threshold])
        assert exit_info.value.code == 2 and "--threshold" in one_line_error(capsys)
    for out in (tmp_path / "taken", tmp_path / "taken" / "report"):
        with pytest.raises(SystemExit) as exit_info:
            cli.main([*base, "--out", str(out)])
        assert exit_info.value.code == 2 and "taken is an existing file" in one_line_error(capsys)
    assert cli.main([*base, "--out", str(tmp_path / "out")]) == 2
    assert "notes.txt: not a TFRecord file" in one_line_error(capsys)  # 11 bytes: no record header even
    assert not (tmp_path / "out").exists()


def test_help_documents_every_option_and_loads_no_tensorflow():
    code = (
        "import sys; from affectkeras import cli; parser = cli.build_parser(); "
        "sub = parser._subparsers._group_actions[0].choices; "
        "print('\\n=====\\n'.join(sub[name].format_help() for name in ('evaluate', 'export'))); "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'framework imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    evaluate_help, export_help = done.stdout.split("=====")
    for option in ("--model", "--records", "--out", "--tasks", "--edition", "--batch-size", "--threshold",
                   "--no-plots"):
        assert option in evaluate_help, option
    for option in ("--model", "--out", "--tflite", "--no-tflite", "--overwrite"):
        assert option in export_help, option

