"""Tests of affectkeras.annotations: ABAW readers, annotator fusion, resampling, downstream databases."""

import csv
import fractions
import pathlib
import re

import numpy as np
import pytest

from affectkeras import annotations as ann
from affectkeras.constants import (
    AU_MASK,
    AUS_8,
    AUS_12,
    EXPR_MASK,
    EXPRESSIONS_7,
    EXPRESSIONS_8,
    RAVDESS_EMOTIONS,
    VA_MASK,
)
from affectkeras.errors import DataFormatError, InvalidArgumentError

VA_HEADER = "valence,arousal"
EXPR8_HEADER = ",".join(EXPRESSIONS_8)
EXPR7_HEADER = ",".join(EXPRESSIONS_7)
AU12_HEADER = ",".join(AUS_12)
AU8_HEADER = ",".join(AUS_8)



def write(path, text, newline="\n"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


def assert_names(error, path, line):
    """The error names the file and (when given) the line."""
    message = str(error.value)
    assert str(path) in message
    assert error.value.path == str(path)
    assert error.value.line == line
    if line is not None:
        assert f"{path}:{line}:" in message


# ----------------------------------------------------------------------------------------
# Per-video files


def test_read_va_file_with_crlf_and_trailing_blank_lines(tmp_path):
    path = write(
        tmp_path / "10-60-1280x720.txt", f"{VA_HEADER}\n0.5,-0.25\n-5,-5\n1,-1\n-5,0.3\n\n\n", newline="\r\n"
    )
    labels = ann.read_annotation_file(path)
    assert (labels.video, labels.task, labels.names) == ("10-60-1280x720", "VA", ("valence", "arousal"))
    assert labels.values.dtype == np.float32
    np.testing.assert_array_equal(
        labels.values, [[0.5, -0.25], [VA_MASK, VA_MASK], [1, -1], [VA_MASK, VA_MASK]]
    )
    np.testing.assert_array_equal(labels.mask, [True, False, True, False])  # one -5 masks the frame
    np.testing.assert_array_equal(labels.frame_indices, [1, 2, 3, 4])


@pytest.mark.parametrize("header,names", [(EXPR8_HEADER, EXPRESSIONS_8), (EXPR7_HEADER, EXPRESSIONS_7)])
def test_read_expr_file(tmp_path, header, names):
    path = write(tmp_path / "v.txt", f"{header}\n0\n-1\n6\n3\n")
    labels = ann.read_annotation_file(path, "EXPR")
    assert labels.task == "EXPR" and labels.names == names
    assert labels.values.dtype == np.int64 and labels.values.shape == (4,)
    np.testing.assert_array_equal(labels.values, [0, EXPR_MASK, 6, 3])
    np.testing.assert_array_equal(labels.mask, [True, False, True, True])
    np.testing.assert_array_equal(labels.frame_indices, [1, 2, 3, 4])


@pytest.mark.parametrize("header,names", [(AU12_HEADER, AUS_12), (AU8_HEADER, AUS_8)])
def test_read_au_file(tmp_path, header, names):
    k = len(names)
    rows = [[1] + [0] * (k - 1), [-1] * k, [0] * (k - 1) + [1]]
    text = header + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n"
    labels = ann.read_annotation_file(write(tmp_path / "v_left.txt", text))
    assert labels.task == "AU" and labels.names == names and labels.video == "v_left"
    np.testing.assert_array_equal(labels.values, rows)
    np.testing.assert_array_equal(labels.mask, np.array(rows) != AU_MASK)
    np.testing.assert_array_equal(labels.frame_mask, [True, False, True])


def test_header_only_file_has_no_frames(tmp_path):
    labels = ann.read_annotation_file(write(tmp_path / "v.txt", VA_HEADER + "\n"))
    assert len(labels) == 0 and labels.values.shape == (0, 2)


AU12_ROW = ",".join(["0"] * 12)


@pytest.mark.parametrize(
    "text,line,fragment",
    [
        ("", 1, "empty file"),
        ("valence;arousal\n0,0\n", 1, "unknown header"),
        ("Neutral,Anger\n0\n", 1, "unknown header"),
        (f"{VA_HEADER}\n0.1,0.2\n0.3\n", 3, "expected 2"),
        (f"{VA_HEADER}\n0.1,0.2,0.3\n", 2, "expected 2"),
        (f"{VA_HEADER}\n0.1,0.2\n\n0.1,0.2\n", 3, "expected 2"),  # a blank line inside
        (f"{VA_HEADER}\n0.1,abc\n", 2, "arousal must be a number"),
        (f"{VA_HEADER}\n0.1,0.2\n0.1,nan\n", 3, "finite"),
        (f"{VA_HEADER}\n0.1,0.2\n1.5,0.2\n", 3, "valence = 1.5"),
        (f"{VA_HEADER}\n-4,0.2\n", 2, "valence = -4"),
        (f"{EXPR8_HEADER}\n0\n8\n", 3, "[0, 8)"),
        (f"{EXPR7_HEADER}\n7\n", 2, "[0, 7)"),
        (f"{EXPR8_HEADER}\n2.5\n", 2, "expression = 2.5"),
        (f"{EXPR8_HEADER}\n-5\n", 2, "expression = -5"),
        (f"{EXPR8_HEADER}\n1,2\n", 2, "expected 1"),
        (f"{AU12_HEADER}\n{AU12_ROW}\n{AU12_ROW[:-1]}2\n", 3, "AU26 = 2"),
        (f"{AU12_HEADER}\n{AU12_ROW[:-2]}\n", 2, "expected 12"),
    ],
)
def test_malformed_annotation_file_names_file_and_line(tmp_path, text, line, fragment):
    path = write(tmp_path / "bad.txt", text)
    with pytest.raises(DataFormatError) as error:
        ann.read_annotation_file(path)
    assert_names(error, path, line)
    assert fragment in str(error.value)


def test_wrong_task_and_missing_file(tmp_path):
    path = write(tmp_path / "v.txt", f"{VA_HEADER}\n0,0\n")
    with pytest.raises(DataFormatError) as error:
        ann.read_annotation_file(path, "AU")
    assert_names(error, path, 1)
    missing = tmp_path / "nope.txt"
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        ann.read_annotation_file(missing)
    with pytest.raises(InvalidArgumentError, match="task"):
        ann.read_annotation_file(path, "valence")


def test_detect_task():
    assert ann.detect_task(" Valence , Arousal ") == ("VA", ("valence", "arousal"))
    assert ann.detect_task(AU8_HEADER) == ("AU", AUS_8)
    assert ann.detect_task("image,valence") is None


# ----------------------------------------------------------------------------------------
# Folders, names, merging, alignment


@pytest.mark.parametrize(
    "task,split,folder",
    [
        ("VA", "train", "VA_Estimation_Challenge/Train_Set"),
        ("EXPR", "validation", "EXPR_Recognition_Challenge/Validation_Set"),
        ("EXPR", "Train_Set", "EXPR_Classification_Challenge/Train_Set"),
        ("AU", "val", "AU_Detection_Challenge/Validation_Set"),
        ("VA", "train", "VA_Set/Training_Set"),
        ("EXPR", "Validation_Set", "EXPR_Set/Validation_Set"),
        ("AU", "training", "AU_Set/Training_Set"),
    ],
)
def test_find_annotation_files_in_both_layouts(tmp_path, task, split, folder):
    header = {"VA": VA_HEADER, "EXPR": EXPR7_HEADER, "AU": AU8_HEADER}[task]
    row = {"VA": "0.1,0.2", "EXPR": "3", "AU": ",".join(["1"] * 8)}[task]
    for name in ("b_right", "a", "b_left"):
        write(tmp_path / folder / f"{name}.txt", f"{header}\n{row}\n")
    write(tmp_path / folder / "readme.md", "not an annotation")
    files = ann.find_annotation_files(tmp_path, task, split)
    assert [p.name for p in files] == ["a.txt", "b_left.txt", "b_right.txt"]
    assert ann.find_annotation_folder(tmp_path, task, split) == tmp_path / folder
    labels = ann.read_annotation_set(tmp_path, task, split)
    assert list(labels) == ["a", "b_left", "b_right"] and all(v.task == task for v in labels.values())


def test_find_annotation_files_lists_what_it_looked_for(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        ann.find_annotation_files(tmp_path, "EXPR", "train")
    message = str(error.value)
    for folder in (
        "EXPR_Recognition_Challenge",
        "EXPR_Classification_Challenge",
        "EXPR_Set",
        "Train_Set",
        "Training_Set",
    ):
        assert folder in message
    with pytest.raises(InvalidArgumentError, match="split"):
        ann.find_annotation_files(tmp_path, "VA", "dev")


def test_source_video():
    assert ann.source_video("10-60-1280x720") == ("10-60-1280x720", None)
    assert ann.source_video("10-60-1280x720_left") == ("10-60-1280x720", "left")
    assert ann.source_video("video59_right") == ("video59", "right")
    assert ann.source_video("_left") == ("_left", None)  # no source name before the suffix
    assert ann.source_video("10-60-1280x720-2") == ("10-60-1280x720-2", None)


def test_merge_labels_takes_union_of_frames_and_masks_missing_tasks(tmp_path):
    va = ann.read_annotation_file(write(tmp_path / "v.txt", f"{VA_HEADER}\n0.1,0.2\n-5,-5\n0.3,0.4\n"))
    expr = ann.read_annotation_file(write(tmp_path / "e" / "v.txt", f"{EXPR8_HEADER}\n1\n2\n-1\n7\n5\n"))
    table = ann.merge_labels([va, expr])
    assert table.video == "v" and len(table) == 5
    np.testing.assert_array_equal(table.frame_indices, [1, 2, 3, 4, 5])
    np.testing.assert_allclose(
        table.va, [[0.1, 0.2], [VA_MASK] * 2, [0.3, 0.4], [VA_MASK] * 2, [VA_MASK] * 2], rtol=1e-6
    )
    np.testing.assert_array_equal(table.va_mask, [True, False, True, False, False])
    np.testing.assert_array_equal(table.expression, [1, 2, EXPR_MASK, 7, 5])
    np.testing.assert_array_equal(table.expression_mask, [True, True, False, True, True])
    assert table.aus.shape == (5, 12) and table.au_names == AUS_12  # no AU file: latest edition's set
    assert (table.aus == AU_MASK).all() and not table.aus_mask.any()
    assert ann.merge_labels([va], num_aus=8, num_expressions=7).aus.shape == (5 - 2, 8)
    np.testing.assert_array_equal(table.labels("EXPR").values, table.expression)
    with pytest.raises(InvalidArgumentError, match="num_expressions"):
        ann.merge_labels([expr], num_expressions=7)
    with pytest.raises(InvalidArgumentError, match="Two VA"):
        ann.merge_labels([va, va])


def test_merge_annotation_sets_over_union_of_videos(tmp_path):
    va = {"a": ann.Labels("a", "VA", ("valence", "arousal"), [[0.0, 0.0]], [True])}
    au = {"b": ann.Labels("b", "AU", AUS_8, [[1] * 8, [0] * 8], np.ones((2, 8), bool))}
    tables = ann.merge_annotation_sets(va=va, au=au)
    assert list(tables) == ["a", "b"]
    assert tables["a"].au_names == AUS_8 and not tables["a"].aus_mask.any()
    assert not tables["b"].va_mask.any() and len(tables["b"]) == 2


def test_align_to_face_crops_by_frame_index_not_position(tmp_path):
    labels = ann.read_annotation_file(write(tmp_path / "v.txt", f"{EXPR8_HEADER}\n0\n1\n2\n-1\n4\n"))
    crops = tmp_path / "cropped_aligned" / "v"
    crops.mkdir(parents=True)
    for frame in (7, 1, 3, 4):  # frame 2 and 5 have no face; 7 is past the annotations
        (crops / f"{frame:05d}.jpg").write_bytes(b"")
    (crops / "Thumbs.db").write_bytes(b"")
    frames = ann.list_face_frames(crops)
    np.testing.assert_array_equal(frames, [1, 3, 4, 7])
    aligned = ann.align_to_frames(labels, frames)
    np.testing.assert_array_equal(aligned.frame_indices, [1, 3, 4, 7])
    np.testing.assert_array_equal(aligned.values, [0, 2, EXPR_MASK, EXPR_MASK])
    np.testing.assert_array_equal(aligned.mask, [True, True, False, False])
    table = ann.align_to_frames(ann.merge_labels([labels]), frames)
    np.testing.assert_array_equal(table.expression, aligned.values)
    assert not table.va_mask.any()
    (crops / "face.jpg").write_bytes(b"")
    with pytest.raises(DataFormatError, match="face.jpg"):
        ann.list_face_frames(crops)
    with pytest.raises(FileNotFoundError, match="missing"):
        ann.list_face_frames(tmp_path / "missing")
    with pytest.raises(InvalidArgumentError, match="1-based"):
        ann.align_to_frames(labels, [0, 1])


# ----------------------------------------------------------------------------------------
# MTL CSV


MTL_HEADER = ",".join(ann.MTL_HEADER)


def mtl_row(image, va="0.1,0.2", expr="3", aus=None):
    return f"{image},{va},{expr},{aus or ','.join(['0'] * 11 + ['1'])}"


def test_read_mtl_csv_groups_rows_by_video(tmp_path):
    rows = [
        mtl_row("b/00010.jpg", expr="7"),
        mtl_row("a/00003.jpg", va="-5,-5"),
        mtl_row("a/00001.jpg", expr="-1", aus=",".join(["-1"] * 12)),
        mtl_row("b/00002.jpg", va="-0.5,1"),
    ]
    path = write(tmp_path / "mtl.txt", MTL_HEADER + "\n" + "\n".join(rows) + "\n\n")
    tables = ann.read_mtl_csv(path)
    assert list(tables) == ["b", "a"]
    a, b = tables["a"], tables["b"]
    np.testing.assert_array_equal(a.frame_indices, [1, 3])
    np.testing.assert_array_equal(a.va_mask, [True, False])
    np.testing.assert_array_equal(a.expression, [EXPR_MASK, 3])
    np.testing.assert_array_equal(a.aus_mask.all(axis=1), [False, True])
    np.testing.assert_array_equal(b.frame_indices, [2, 10])
    np.testing.assert_allclose(b.va, [[-0.5, 1.0], [0.1, 0.2]])
    np.testing.assert_array_equal(b.expression, [3, 7])
    assert b.expression_names == EXPRESSIONS_8 and b.au_names == AUS_12
    np.testing.assert_array_equal(b.aus[:, -1], [1, 1])


@pytest.mark.parametrize(
    "rows,line,fragment",
    [
        ([mtl_row("a/00001.jpg"), "a/00002.jpg,0.1,0.2,3"], 3, "expected 16"),
        ([mtl_row("a/00001.jpg", expr="9")], 2, "expression = 9"),
        ([mtl_row("a/00001.jpg"), mtl_row("a/00002.jpg", va="2,0")], 3, "valence = 2"),
        ([mtl_row("a/00001.jpg", va="x,0")], 2, "valence must be a number"),
        ([mtl_row("00001.jpg")], 2, "image must look like"),
        ([mtl_row("a/first.jpg")], 2, "image must look like"),
        (
            [mtl_row("a/00001.jpg"), mtl_row("b/00001.jpg"), mtl_row("a/00001.jpg")],
            4,
            "already listed on line 2",
        ),
    ],
)
def test_malformed_mtl_csv(tmp_path, rows, line, fragment):
    path = write(tmp_path / "mtl.csv", MTL_HEADER + "\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataFormatError) as error:
        ann.read_mtl_csv(path)
    assert_names(error, path, line)
    assert fragment in str(error.value)


def test_mtl_csv_with_the_released_files_short_header(tmp_path):
    # The challenge's files name the 12 AU columns `aus` once; each line still holds 16 values.
    rows = [mtl_row("a/00001.jpg", expr="2"), mtl_row("a/00002.jpg", aus=",".join(["1"] + ["0"] * 11))]
    short = write(tmp_path / "short.txt", "image,valence,arousal,expression,aus\n" + "\n".join(rows) + "\n")
    full = write(tmp_path / "full.txt", MTL_HEADER + "\n" + "\n".join(rows) + "\n")
    a, b = ann.read_mtl_csv(short)["a"], ann.read_mtl_csv(full)["a"]
    for field in ("frame_indices", "va", "expression", "aus", "aus_mask"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    np.testing.assert_array_equal(a.aus[:, 0], [0, 1])
    bad = write(tmp_path / "bad.txt", "image,valence,arousal,expression,aus\na/00001.jpg,0.1,0.2,3,1\n")
    with pytest.raises(DataFormatError, match="expected 16"):
        ann.read_mtl_csv(bad)


def test_mtl_csv_wrong_header(tmp_path):
    path = write(tmp_path / "mtl.csv", "image,valence,arousal,expression\n")
    with pytest.raises(DataFormatError) as error:
        ann.read_mtl_csv(path)
    assert_names(error, path, 1)


# ----------------------------------------------------------------------------------------
# Fusion


def reference_median_filter(x, window):
    """Straightforward loop: window [i - w//2, i + (w-1)//2] cut at the edges, numpy median."""
    before, after = window // 2, (window - 1) // 2
    return np.array([np.median(x[max(0, i - before) : i + after + 1]) for i in range(len(x))])


def reference_maic(a):
    r = np.corrcoef(a)
    n = len(a)
    return np.mean([np.mean([r[i, j] for j in range(n) if j != i]) for i in range(n)])


def noisy_annotators(rng, annotators=4, frames=200, spike=0.0):
    truth = np.sin(np.linspace(0, 6, frames))
    a = truth + rng.normal(scale=0.3, size=(annotators, frames))
    spikes = rng.random((annotators, frames)) < spike
    return a + spikes * rng.choice([-3.0, 3.0], size=(annotators, frames))


@pytest.mark.parametrize("window", [1, 2, 3, 4, 5, 15, 30])
@pytest.mark.parametrize("frames", [40, 9])
def test_median_filter_matches_reference(window, frames):
    x = np.random.default_rng(window * frames).normal(size=(3, frames))
    out = ann.median_filter(x, window)
    np.testing.assert_allclose(out, [reference_median_filter(row, window) for row in x])
    np.testing.assert_allclose(ann.median_filter(x[0], window), reference_median_filter(x[0], window))


def test_fuse_mean_and_median_filtered():
    a = noisy_annotators(np.random.default_rng(1))
    np.testing.assert_allclose(ann.fuse_mean(a), a.mean(axis=0))
    expected = np.mean([reference_median_filter(row, 15) for row in a], axis=0)
    np.testing.assert_allclose(ann.fuse_median_filtered(a, 15), expected)
    with pytest.raises(InvalidArgumentError, match="annotators, frames"):
        ann.fuse_mean(a[0])
    with pytest.raises(InvalidArgumentError, match="finite"):
        ann.fuse_mean([[0.0, np.nan]])


def test_maic_matches_reference_and_pools_videos():
    rng = np.random.default_rng(2)
    a = noisy_annotators(rng)
    assert ann.maic(a) == pytest.approx(reference_maic(a), abs=1e-12)
    np.testing.assert_allclose(
        ann.average_correlations(a),
        [np.mean([np.corrcoef(a[i], a[j])[0, 1] for j in range(4) if j != i]) for i in range(4)],
    )
    videos = [a[:, :120], noisy_annotators(rng, frames=80)]
    assert ann.maic(videos) == pytest.approx(reference_maic(np.concatenate(videos, axis=1)), abs=1e-12)
    with pytest.raises(InvalidArgumentError, match="at least 2"):
        ann.maic(a[:1])


def test_choose_fusion_picks_the_best_maic():
    a = noisy_annotators(np.random.default_rng(3), spike=0.1)
    fused, report = ann.choose_fusion(a)
    expected = {"mean": reference_maic(a)}
    for w in (5, 15, 30):
        expected[f"median_{w}"] = reference_maic(np.array([reference_median_filter(row, w) for row in a]))
    assert report["maic"] == pytest.approx(expected)
    best = max(expected, key=expected.get)
    assert best != "mean"  # filtering removes the spikes
    assert report["best"] == best and report["window"] == int(best.split("_")[1])
    np.testing.assert_allclose(fused, ann.fuse_median_filtered(a, report["window"]))
    # Identical annotators: every candidate scores 1, the tie goes to the plain mean.
    same = np.tile(np.linspace(-1, 1, 50), (3, 1))
    fused, report = ann.choose_fusion(same)
    assert report["best"] == "mean" and report["window"] is None
    np.testing.assert_allclose(fused, same[0])


def test_choose_fusion_filters_each_video_separately():
    rng = np.random.default_rng(4)
    videos = [noisy_annotators(rng, frames=60, spike=0.1), noisy_annotators(rng, frames=45, spike=0.1)]
    fused, report = ann.choose_fusion(videos, windows=(5,))
    assert report["best"] == "median_5"
    assert [len(f) for f in fused] == [60, 45]
    for f, v in zip(fused, videos):
        np.testing.assert_allclose(f, ann.fuse_median_filtered(v, 5))


# ----------------------------------------------------------------------------------------
# Resampling


def test_resampled_length():
    assert ann.resampled_length(250, 25) == 300
    assert ann.resampled_length(3, 25) == 4  # 3.6
    assert ann.resampled_length(1, 25) == 1  # 1.2
    assert ann.resampled_length(5, 20) == 8  # 7.5 rounds half up
    assert ann.resampled_length(2997, 29.97) == 3000
    assert ann.resampled_length(0, 25) == 0


def test_resample_ramp_25_to_30():
    n = 50
    ramp = np.arange(n) / 25.0  # value = time of the frame
    out, mask = ann.resample_to_fps(ramp, 25, 30)
    assert out.shape == (60,) and mask.all()
    times = np.arange(60) / 30.0
    np.testing.assert_allclose(
        out, np.minimum(times, (n - 1) / 25.0), atol=1e-12
    )  # held after the last frame
    # 2-D values with a per-frame mask: a masked source frame masks the outputs next to it.
    values = np.stack([ramp, -ramp], axis=1)
    source_mask = np.ones(n, bool)
    source_mask[10] = False  # t = 0.4 s
    out, mask = ann.resample_to_fps(values, 25, 30, mask=source_mask)
    expected_mask = np.ones(60, bool)
    for j in range(60):
        p = fractions.Fraction(j * 25, 30)
        lo = int(p)
        expected_mask[j] = source_mask[min(lo, n - 1)] and (p == lo or source_mask[min(lo + 1, n - 1)])
    np.testing.assert_array_equal(mask, expected_mask)
    np.testing.assert_array_equal(
        mask[10:15], [True, False, False, False, True]
    )  # 0.367-0.433 s touch frame 10
    assert np.isnan(out[~mask]).all()
    np.testing.assert_allclose(out[mask, 0], np.minimum(times, (n - 1) / 25.0)[mask], atol=1e-12)
    out, _ = ann.resample_to_fps(values, 25, 30, mask=source_mask, fill_value=VA_MASK)
    assert (out[~mask] == VA_MASK).all()


def test_resample_class_labels_nearest_with_mask():
    labels = np.array([0, 1, 2, 3, 4, 5, 6, 7, 1, 2], np.int64)
    source_mask = labels != 3
    labels[~source_mask] = EXPR_MASK
    out, mask = ann.resample_to_fps(labels, 25, 30, kind="nearest", mask=source_mask)
    assert out.dtype == np.int64 and len(out) == 12
    nearest = [min(int(fractions.Fraction(j * 25, 30) + fractions.Fraction(1, 2)), 9) for j in range(12)]
    assert nearest == [0, 1, 2, 3, 3, 4, 5, 6, 7, 8, 8, 9]
    np.testing.assert_array_equal(out, labels[nearest])
    np.testing.assert_array_equal(mask, source_mask[nearest])
    assert (out[~mask] == EXPR_MASK).all()
    # AU matrix with a per-AU mask.
    aus = np.array([[0, 1], [1, -1], [1, 0]])
    out, mask = ann.resample_to_fps(aus, 10, 20, kind="nearest", mask=aus != -1)
    np.testing.assert_array_equal(out, aus[[0, 1, 1, 2, 2, 2]])
    np.testing.assert_array_equal(mask, (aus != -1)[[0, 1, 1, 2, 2, 2]])


def test_resample_argument_errors():
    with pytest.raises(InvalidArgumentError, match="kind"):
        ann.resample_to_fps([0.0], 25, kind="cubic")
    with pytest.raises(InvalidArgumentError, match="mask"):
        ann.resample_to_fps([0.0, 1.0], 25, mask=[True])
    with pytest.raises(InvalidArgumentError, match="src_fps"):
        ann.resample_to_fps([0.0], 0)
    out, mask = ann.resample_to_fps(np.zeros((0, 2)), 25)
    assert out.shape == (0, 2) and mask.shape == (0,)


# ----------------------------------------------------------------------------------------
# Expression image databases


def make_images(root, relative_paths):
    for relative in relative_paths:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def test_read_expression_folder_with_aliases_and_subjects(tmp_path):
    make_images(
        tmp_path,
        [
            "Happy/S010_001.png",
            "ANGRY/S011_002.png",
            "sad/S010_003.jpg",
            "surprised/S012_004.png",
            "fearful/S011_005.png",
            "disgusted/S013_006.png",
            "neutral/S010_007.png",
            "neutral/notes.txt",
        ],
    )
    records = ann.read_expression_folder(tmp_path, subject_pattern=r"/(S\d{3})_")
    by_name = {r.label_name: r for r in records}
    assert len(records) == 7
    assert {name: (r.label, r.subject) for name, r in by_name.items()} == {
        "Anger": (1, "S011"),
        "Disgust": (2, "S013"),
        "Fear": (3, "S011"),
        "Happiness": (4, "S010"),
        "Neutral": (0, "S010"),
        "Sadness": (5, "S010"),
        "Surprise": (6, "S012"),
    }
    assert by_name["Happiness"].image == str(tmp_path / "Happy" / "S010_001.png")


def test_read_expression_folder_extra_classes(tmp_path):
    make_images(tmp_path, ["happy/a.png", "contempt/b.png", "contempt/c.png"])
    with pytest.raises(DataFormatError) as error:
        ann.read_expression_folder(tmp_path)
    assert str(tmp_path / "contempt") in str(error.value)
    assert "happiness (happy)" in str(error.value) and "unknown='drop'" in str(error.value)
    assert [r.label_name for r in ann.read_expression_folder(tmp_path, unknown="drop")] == ["Happiness"]
    kept = ann.read_expression_folder(tmp_path, class_map={"Contempt": "Other"})
    assert [r.label for r in kept] == [7, 7, 4]
    assert len(ann.read_expression_folder(tmp_path, class_map={"contempt": None})) == 1
    with pytest.raises(InvalidArgumentError, match="index 0-6"):  # no Other among 7 classes
        ann.read_expression_folder(tmp_path, class_map={"contempt": "Other"}, num_classes=7)
    with pytest.raises(InvalidArgumentError, match="class_map"):
        ann.read_expression_folder(tmp_path, class_map={"contempt": "Smug"})


def test_read_expression_folder_numbered_and_subject_errors(tmp_path):
    make_images(tmp_path, ["1/train_0001.jpg", "7/test_0002.jpg", "4/train_0003.jpg", "4/._train_0003.jpg"])
    records = ann.read_expression_folder(tmp_path, class_map=ann.RAFDB_CLASS_MAP)
    assert [(r.label_name, r.subject) for r in records] == [
        ("Surprise", None),
        ("Happiness", None),
        ("Neutral", None),
    ]
    with pytest.raises(DataFormatError) as error:
        ann.read_expression_folder(tmp_path, class_map=ann.RAFDB_CLASS_MAP, subject_pattern=r"^\d/(train)_")
    assert "test_0002.jpg" in str(error.value) and "subject_pattern" in str(error.value)
    with pytest.raises(InvalidArgumentError, match="group"):
        ann.read_expression_folder(tmp_path, subject_pattern=r"S\d+")
    with pytest.warns(UserWarning, match="classes given as numbers"):  # RAF-DB's 1 is no Anger
        assert [r.label_name for r in ann.read_expression_folder(tmp_path, num_classes=8)] == [
            "Anger", "Happiness", "Other"]
    with pytest.raises(FileNotFoundError):
        ann.read_expression_folder(tmp_path / "missing")


def test_read_expression_csv(tmp_path):
    make_images(tmp_path, ["img/a.png", "img/b.png", "affectnet/12/x.jpg"])
    path = write(
        tmp_path / "list.csv",
        "File,Emotion,Person\nimg/a.png,happy,p1\nimg\\b.png,5,p2\n\nimg/c.png,Contempt,p1\n",
    )
    with pytest.warns(UserWarning, match=r"list.csv: classes given as numbers.*RAFDB_CLASS_MAP"):
        records = ann.read_expression_csv(
            path, path_column="file", label_column="emotion", subject_column="person", unknown="drop"
        )
    assert [(r.image, r.label, r.subject) for r in records] == [
        (str(tmp_path / "img/a.png"), 4, "p1"),
        (str(tmp_path / "img/b.png"), 5, "p2"),
    ]
    with pytest.raises(DataFormatError) as error:
        ann.read_expression_csv(path, path_column="file", label_column="emotion")
    assert_names(error, path, 5)
    affectnet = write(tmp_path / "affectnet.csv", "subDirectory_filePath,expression\n12/x.jpg,6\n7/y.jpg,7\n")
    records = ann.read_expression_csv(
        affectnet,
        path_column="subDirectory_filePath",
        label_column="expression",
        class_map=ann.AFFECTNET_CLASS_MAP,
        subject_pattern=r"^(\d+)/",
        root=tmp_path / "affectnet",
    )
    assert [(r.image, r.label_name, r.subject) for r in records] == [
        (str(tmp_path / "affectnet/12/x.jpg"), "Anger", "12")
    ]
    missing = write(tmp_path / "missing.csv", "path,label\nimg/a.png,happy\nimg/gone.png,sad\n")
    with pytest.raises(DataFormatError, match=r"missing.csv:3: image 'img/gone.png' not found"):
        ann.read_expression_csv(missing)
    latin = tmp_path / "latin.csv"  # a spreadsheet's Windows-1252 export
    latin.write_bytes("path,label\nimg/a.png,happy\nimg/b.png,d\u00e9go\u00fbt\n".encode("cp1252"))
    with pytest.raises(DataFormatError, match=r"latin.csv:3: not UTF-8 text \(byte 0xe9\)"):
        ann.read_expression_csv(latin)
    with pytest.raises(DataFormatError) as error:
        ann.read_expression_csv(path, path_column="image", label_column="emotion")
    assert_names(error, path, 1)
    assert "File, Emotion, Person" in str(error.value)


def test_read_fer2013(tmp_path):
    pixels = np.arange(48 * 48) % 256
    text = " ".join(map(str, pixels))
    path = write(
        tmp_path / "fer2013.csv",
        f"emotion,pixels,Usage\n0,{text},Training\n6,{text},PublicTest\n3,{text},PrivateTest\n",
    )
    records = ann.read_fer2013(path)
    assert [(r.label_name, r.label, r.split, r.subject) for r in records] == [
        ("Anger", 1, "Training", None),
        ("Neutral", 0, "PublicTest", None),
        ("Happiness", 4, "PrivateTest", None),
    ]
    assert records[0].image.dtype == np.uint8 and records[0].image.shape == (48, 48)
    np.testing.assert_array_equal(records[0].image.ravel(), pixels)
    assert [ann.FER2013_EMOTIONS.index(r.label_name) for r in records] == [0, 6, 3]
    for bad, fragment in [
        (text[:-4], "2304"),
        (text.replace("1 ", "x ", 1), "2304"),
        (text.replace("255", "256", 1), "[0, 255]"),
    ]:
        bad_path = write(tmp_path / "bad.csv", f"emotion,pixels,Usage\n0,{text},Training\n2,{bad},Training\n")
        with pytest.raises(DataFormatError) as error:
            ann.read_fer2013(bad_path)
        assert_names(error, bad_path, 3)
        assert fragment in str(error.value)
    bad_path = write(tmp_path / "bad.csv", f"emotion,pixels,Usage\n7,{text},Training\n")
    with pytest.raises(DataFormatError, match="0-6"):
        ann.read_fer2013(bad_path)


def test_read_jaffe(tmp_path):
    make_images(
        tmp_path, ["KA.AN1.39.tiff", "KA.HA2.30.tiff", "NA.SU1.79.tiff", "YM.NE3.49.tiff", "TM.DI1.193.tiff"]
    )
    (tmp_path / "README").write_text("JAFFE")
    records = ann.read_jaffe(tmp_path)
    assert [(r.label_name, r.subject) for r in records] == [
        ("Anger", "KA"),
        ("Happiness", "KA"),
        ("Surprise", "NA"),
        ("Disgust", "TM"),
        ("Neutral", "YM"),
    ]
    make_images(tmp_path, ["KA.XX1.40.tiff"])
    with pytest.raises(DataFormatError, match="KA.XX1.40.tiff"):
        ann.read_jaffe(tmp_path)


# ----------------------------------------------------------------------------------------
# Subject-independent splits


def fake_records(subject_counts):
    return [
        ann.ExpressionRecord(f"{s}/{i}.png", 0, "Neutral", s)
        for s, n in subject_counts.items()
        for i in range(n)
    ]


def test_split_by_subject_never_shares_subjects():
    records = fake_records({f"S{i}": i + 1 for i in range(10)})
    for seed in range(5):
        train, test = ann.split_by_subject(records, test_fraction=0.3, seed=seed)
        train_subjects, test_subjects = {r.subject for r in train}, {r.subject for r in test}
        assert len(test_subjects) == 3 and not train_subjects & test_subjects
        assert len(train) + len(test) == len(records)
    assert ann.split_by_subject(records, test_fraction=0.3, seed=1) == ann.split_by_subject(
        records, test_fraction=0.3, seed=1
    )
    train, test = ann.split_by_subject(records, test_subjects=["S0", "S9"])
    assert {r.subject for r in test} == {"S0", "S9"} and len(test) == 11
    assert ann.split_by_subject(records, test_fraction=0.01)[1]  # at least one test subject
    with pytest.raises(InvalidArgumentError, match="S42"):
        ann.split_by_subject(records, test_subjects=["S42"])
    with pytest.raises(InvalidArgumentError, match="exactly one"):
        ann.split_by_subject(records)
    with pytest.raises(InvalidArgumentError, match="subject"):
        ann.split_by_subject(records + [ann.ExpressionRecord("x.png", 0, "Neutral")], test_fraction=0.5)


def test_kfold_by_subject_and_leave_one_out():
    records = fake_records({"A": 2, "B": 3, "C": 1, "D": 4, "E": 2})
    for k, seed in [(2, None), (3, 0), (5, None)]:
        folds = ann.kfold_by_subject(records, k, seed=seed)
        assert len(folds) == k
        seen = []
        for train, test in folds:
            assert not {r.subject for r in train} & {r.subject for r in test}
            assert len(train) + len(test) == len(records)
            seen += [r.subject for r in test]
        assert sorted(seen) == sorted(r.subject for r in records)  # every record tested once
    loso = ann.kfold_by_subject(records, 5)
    assert [{r.subject for r in test} for _, test in loso] == [{"A"}, {"B"}, {"C"}, {"D"}, {"E"}]
    with pytest.raises(InvalidArgumentError, match="between 2"):
        ann.kfold_by_subject(records, 6)


# ----------------------------------------------------------------------------------------
# RECOLA-style continuous CSV


def test_read_continuous_csv_resamples_25_to_30(tmp_path):
    n = 50
    times = np.arange(n) * 0.04
    lines = ["time;valence;arousal"] + [f"{t:.2f};{t / 2:.4f};{-t / 2:.4f}" for t in times]
    lines[1 + 20] = f"{times[20]:.2f};;{-times[20] / 2:.4f}"  # valence missing at 0.8 s
    path = write(tmp_path / "train_1.csv", "\n".join(lines) + "\n")
    gold = ann.read_continuous_csv(path)
    assert gold.fps == 30.0 and gold.names == ("valence", "arousal")
    assert gold.values.shape == (60, 2) and gold.mask.shape == (60, 2)
    np.testing.assert_allclose(gold.times, np.arange(60) / 30)
    expected = np.minimum(gold.times, times[-1]) / 2
    np.testing.assert_allclose(gold.values[:, 1], -expected, atol=1e-6)
    assert gold.mask[:, 1].all()
    valence_masked = np.flatnonzero(~gold.mask[:, 0])
    np.testing.assert_array_equal(valence_masked, [23, 24, 25])  # 0.767, 0.8, 0.833 s touch the 0.8 s frame
    np.testing.assert_allclose(gold.values[gold.mask[:, 0], 0], expected[gold.mask[:, 0]], atol=1e-6)
    raw = ann.read_continuous_csv(path, dst_fps=None)
    assert raw.fps == 25.0 and raw.values.shape == (50, 2) and not raw.mask[20, 0]


def test_read_continuous_csv_errors(tmp_path):
    path = write(tmp_path / "a.csv", "time,valence,arousal\n0.00,0,0\n0.04,0,0\n0.12,0,0\n0.16,0,0\n")
    with pytest.raises(DataFormatError) as error:
        ann.read_continuous_csv(path)
    assert_names(error, path, 4)
    assert ann.read_continuous_csv(path, src_fps=25).values.shape == (5, 2)  # 4 frames at 25 fps = 4.8
    path = write(tmp_path / "b.csv", "time,valence,arousal\n0.00,0,0\n0.04,x,0\n")
    with pytest.raises(DataFormatError) as error:
        ann.read_continuous_csv(path)
    assert_names(error, path, 3)
    path = write(tmp_path / "c.csv", "time,valence,arousal\n0.04,0,0\n0.00,0,0\n")
    with pytest.raises(DataFormatError, match="increase"):
        ann.read_continuous_csv(path)
    path = write(tmp_path / "d.csv", "t,GoldStandard\n0,0\n")
    with pytest.raises(DataFormatError, match="no column 'time'"):
        ann.read_continuous_csv(path)
    gold = ann.read_continuous_csv(
        write(tmp_path / "e.csv", "t,GoldStandard\n0,0.5\n0.04,0.5\n"),
        time_column="t",
        value_columns=["GoldStandard"],
    )
    assert gold.values.shape == (2, 1)  # 2 frames at 25 fps = 2.4 -> 2 at 30 fps


@pytest.mark.parametrize("cell", ["5", "-1.5", "1.0001", "inf", "-inf"])
def test_read_continuous_csv_refuses_values_out_of_range(tmp_path, cell):
    path = write(tmp_path / "vid1.csv", f"time,Valence,arousal\n0.00,0.1,0.2\n\n0.04,0.3,{cell}\n0.08,0,0\n")
    with pytest.raises(DataFormatError) as error:
        ann.read_continuous_csv(path)
    assert_names(error, path, 4)  # the blank line 3 still counts
    message = str(error.value)
    assert "\n" not in message and f"arousal = {cell} is not valid" in message
    assert "expected a number in [-1, 1]" in message


def test_read_continuous_csv_bounds_and_empty_cells(tmp_path):
    path = write(tmp_path / "vid1.csv", "time,valence,arousal\n0.00,-1,1\n0.04,,nan\n0.08,1.0,-1.000\n")
    raw = ann.read_continuous_csv(path, dst_fps=None)
    np.testing.assert_array_equal(raw.mask, [[True, True], [False, False], [True, True]])
    np.testing.assert_array_equal(raw.values[raw.mask], [-1, 1, 1, -1])


def test_read_continuous_csv_maps_another_scale_onto_minus_one_one(tmp_path):
    path = write(tmp_path / "vid1.csv", "time,valence,arousal\n0.00,1,9\n0.04,5,\n0.08,7,3\n")
    with pytest.raises(DataFormatError, match=r"expected a number in \[-1, 1\].*--value-range"):
        ann.read_continuous_csv(path)
    raw = ann.read_continuous_csv(path, dst_fps=None, value_range=(1, 9))  # a 1-9 rating: 5 is neutral
    np.testing.assert_allclose(raw.values[raw.mask], [-1, 1, 0, 0.5, -0.5])
    np.testing.assert_array_equal(raw.mask, [[True, True], [True, False], [True, True]])
    with pytest.raises(DataFormatError, match=r"valence = 1 is not valid; expected a number in \[2, 9\]"):
        ann.read_continuous_csv(path, value_range=(2, 9))
    for bad in [(1, 1), (9, 1), (0, float("inf")), (0,), "0,1"]:
        with pytest.raises(InvalidArgumentError, match="value_range"):
            ann.read_continuous_csv(path, value_range=bad)


@pytest.mark.parametrize("fps", [30, 25, fractions.Fraction(30000, 1001)])
@pytest.mark.parametrize("decimals", [3, 6])
def test_read_continuous_csv_infers_rate_of_rounded_times(tmp_path, fps, decimals):
    times = 12.5 + np.arange(300) / float(fps)  # 30 fps in ms: steps of 0.033 and 0.034 s
    lines = ["time,valence,arousal"] + [f"{t:.{decimals}f},0.5,-0.5" for t in times]
    path = write(tmp_path / "vid1.csv", "\n".join(lines) + "\n")
    raw = ann.read_continuous_csv(path, dst_fps=None)
    assert raw.fps == float(fps) and raw.values.shape == (300, 2)
    gold = ann.read_continuous_csv(path)
    assert gold.fps == 30.0 and len(gold.values) == ann.resampled_length(300, fps, 30)
    assert gold.mask.all() and gold.times[0] == pytest.approx(12.5)


@pytest.mark.parametrize("change", ["missing row", "10 % jump"])
def test_read_continuous_csv_uneven_rounded_times_name_the_line(tmp_path, change):
    times = np.arange(90) / 30
    if change == "missing row":
        times = np.delete(times, 40)  # row 40 (file line 42) comes two steps after row 39
    else:
        times[40:] += 0.1 / 30
    lines = ["time,valence,arousal"] + [f"{t:.3f},0.5,-0.5" for t in times]
    path = write(tmp_path / "vid1.csv", "\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match="not evenly spaced") as error:
        ann.read_continuous_csv(path)
    assert_names(error, path, 42)
    assert ann.read_continuous_csv(path, src_fps=30, dst_fps=None).fps == 30.0  # src_fps skips the check


# ----------------------------------------------------------------------------------------
# RAVDESS


def test_parse_ravdess_name_and_errors(tmp_path):
    record = ann.parse_ravdess_name("Actor_12/03-01-05-02-01-02-12.wav")
    assert (record.modality, record.vocal_channel, record.emotion, record.emotion_name) == (
        "audio-only",
        "speech",
        4,
        "angry",
    )
    assert (record.intensity, record.statement, record.repetition, record.actor, record.sex) == (
        "strong",
        1,
        2,
        12,
        "female",
    )
    assert record.subject == 12 and record.label == 4
    assert ann.parse_ravdess_name("01-02-08-01-02-01-07.mp4").emotion_name == "surprised"
    for name in ("03-01-09-01-01-01-01.wav", "03-01-05-02-01-01.wav", "03-01-05-02-01-01-25.wav"):
        with pytest.raises(DataFormatError, match=name):
            ann.parse_ravdess_name(name)
    make_images(
        tmp_path, ["Actor_01/03-01-02-01-01-01-01.wav", "Actor_02/03-01-03-02-02-01-02.flac", "notes.csv"]
    )
    records = ann.read_ravdess(tmp_path)
    assert [(r.emotion_name, r.actor, r.sex) for r in records] == [
        ("calm", 1, "male"),
        ("happy", 2, "female"),
    ]
    make_images(tmp_path, ["Actor_02/speech.wav"])
    with pytest.raises(DataFormatError, match="speech.wav"):
        ann.read_ravdess(tmp_path)



def test_read_ravdess_follows_linked_actor_folders_once(tmp_path):
    """A subset of actors assembled from links (no copy), with a link back up that must not loop."""
    make_images(tmp_path / "all", ["Actor_01/03-01-02-01-01-01-01.wav", "Actor_02/03-01-03-02-02-01-02.wav",
                                   "Actor_02/._03-01-03-02-02-01-02.wav"])  # macOS's companion file: no clip
    subset = tmp_path / "subset"
    subset.mkdir()
    (subset / "Actor_02").symlink_to(tmp_path / "all" / "Actor_02", target_is_directory=True)
    (subset / "Actor_02" / "loop").symlink_to(subset, target_is_directory=True)
    assert [(r.emotion_name, r.actor) for r in ann.read_ravdess(subset)] == [("happy", 2)]

def test_read_ravdess_real_folder(shared_data):
    root = shared_data / "ravdess_speech_16k"
    if not root.is_dir():
        pytest.skip(f"{root} is absent")
    records = ann.read_ravdess(root)
    with open(root / "labels.csv", newline="") as f:
        expected = {row["path"]: row for row in csv.DictReader(f)}
    actors = sorted({int(row["actor"]) for row in expected.values()})
    assert len(records) == len(expected) == 60 * len(actors)  # 60 speech clips per actor
    for record in records:
        relative = str(record.path)[len(str(root)) + 1 :].replace("\\", "/")
        row = expected.pop(relative)
        assert record.emotion_name == row["emotion"] and RAVDESS_EMOTIONS[record.emotion] == row["emotion"]
        assert (record.intensity, record.sex) == (row["intensity"], row["sex"])
        assert (record.statement, record.repetition, record.actor) == tuple(
            int(row[c]) for c in ("statement", "repetition", "actor")
        )
    assert not expected
    assert sorted({r.actor for r in records}) == actors
    for train, test in ann.kfold_by_subject(records, len(actors)):
        assert len(test) == 60 and not {r.actor for r in train} & {r.actor for r in test}
    counts = {name: sum(r.emotion_name == name for r in records) for name in RAVDESS_EMOTIONS}
    assert counts == {name: (4 if name == "neutral" else 8) * len(actors) for name in RAVDESS_EMOTIONS}


def test_every_public_name_is_documented():
    for name in ann.__all__:
        obj = getattr(ann, name)
        if callable(obj):
            doc = obj.__doc__ or ""
            assert doc.strip(), name
            if not isinstance(obj, type):
                assert "Returns" in doc and "Example" in doc, name


def test_database_code_tables_cover_the_seven_basic_classes():
    assert set(ann.FER2013_EMOTIONS) == set(EXPRESSIONS_7)
    assert set(ann.JAFFE_CODES.values()) == set(EXPRESSIONS_7)
    assert set(ann.RAFDB_CLASS_MAP.values()) == set(EXPRESSIONS_7)
    assert {v for v in ann.AFFECTNET_CLASS_MAP.values() if v} == set(EXPRESSIONS_7)


# ------------------------------------------------------------------------------- FER+


def _write_ferplus(root, rows, split="train"):
    """A FER+ split folder: `label.csv` rows (name, votes) and a blank PNG per name."""
    from PIL import Image

    folder = root / ann.FERPLUS_SPLITS[split]
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for name, votes in rows:
        Image.new("L", (48, 48)).save(folder / name)
        lines.append(f'{name},"(0, 0, 48, 48)",{",".join(map(str, votes))}')
    (folder / "label.csv").write_text("\n".join(lines) + "\n", encoding="utf-8-sig")  # a BOM, as editors write
    return folder / "label.csv"


def test_ferplus_majority_soft_labels_ties_and_dropped_images(tmp_path):
    # votes: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF
    _write_ferplus(tmp_path, [
        ("a.png", [4, 0, 0, 1, 3, 2, 0, 0, 0, 0]),  # neutral
        ("b.png", [0, 5, 5, 0, 0, 0, 0, 0, 0, 0]),  # tie happiness / surprise: the first column
        ("c.png", [1, 0, 0, 0, 0, 0, 0, 6, 3, 0]),  # contempt -> Other
        ("d.png", [2, 0, 0, 0, 0, 0, 0, 0, 8, 0]),  # unknown: dropped
        ("e.png", [0, 0, 0, 0, 0, 0, 0, 0, 0, 10]),  # not a face: dropped
        ("f.png", [3, 0, 0, 0, 0, 0, 0, 0, 3, 4]),  # NF wins: dropped
    ])
    records = ann.read_ferplus(tmp_path, "train")
    assert [(pathlib.Path(r.image).name, r.label_name) for r in records] == [
        ("a.png", "Neutral"), ("b.png", "Happiness"), ("c.png", "Other")]
    assert all(r.split == "train" and r.label == EXPRESSIONS_8.index(r.label_name) for r in records)
    # Library order: Neutral, Anger, Disgust, Fear, Happiness, Sadness, Surprise, Other.
    np.testing.assert_allclose(records[0].distribution, [0.4, 0.3, 0.2, 0, 0, 0.1, 0, 0])
    np.testing.assert_allclose(records[1].distribution, [0, 0, 0, 0, 0.5, 0, 0.5, 0])
    np.testing.assert_allclose(records[2].distribution, [1 / 7, 0, 0, 0, 0, 0, 0, 6 / 7])  # unknown left out
    assert records[2].votes.tolist() == [1, 0, 0, 0, 0, 0, 0, 6, 3, 0]


@pytest.mark.parametrize(
    "row, message",
    [
        ('x.png,"(0, 0, 48, 48)",1,2,3', "found 5 values"),
        ('x.png,"(0, 0, 48, 48)",0,0,0,0,0,0,0,0,0,0', "at least one vote"),
        ('x.png,"(0, 0, 48, 48)",5,-1,0,0,0,0,0,0,0,0', ">= 0"),
        ('x.png,"(0, 0, 48, 48)",5,one,0,0,0,0,0,0,0,0', "integers"),
        ('gone.png,"(0, 0, 48, 48)",5,0,0,0,0,0,0,0,0,0', "'gone.png' not found"),
    ],
)
def test_ferplus_bad_rows_name_the_file_and_line(tmp_path, row, message):
    labels = _write_ferplus(tmp_path, [("x.png", [5, 0, 0, 0, 0, 0, 0, 0, 0, 0])], split="test")
    labels.write_text(labels.read_text() + row + "\n")
    with pytest.raises(DataFormatError, match=f"label.csv:2: .*{re.escape(message)}"):
        ann.read_ferplus(tmp_path, "test")
    with pytest.raises(FileNotFoundError, match="FER2013Valid"):
        ann.read_ferplus(tmp_path, "validation")
    with pytest.raises(InvalidArgumentError, match="split"):
        ann.read_ferplus(tmp_path, "Training")


def test_read_ferplus_real_folders_count_as_documented(shared_data):
    root = shared_data / "ferplus"
    if not root.is_dir():
        pytest.skip(f"{root} is absent")
    # Majority-vote counts of ../shared/data/README.md (ties to the first column), FER+ order
    # neutral, happiness, surprise, sadness, anger, fear, disgust, contempt.
    documented = {
        "train": ((10295, 7526, 3557, 3530, 2463, 655, 191, 168), 173),
        "test": ((1258, 928, 447, 446, 321, 97, 20, 28), 28),
    }
    order = ("Neutral", "Happiness", "Surprise", "Sadness", "Anger", "Fear", "Disgust", "Other")
    for split, (counts, skipped) in documented.items():
        records = ann.read_ferplus(root, split)
        found = tuple(sum(r.label_name == name for r in records) for name in order)
        assert found == counts, split
        with open(root / ann.FERPLUS_SPLITS[split] / "label.csv") as file:
            assert sum(1 for _ in file) == len(records) + skipped
        assert all(r.distribution.argmax() == r.label or r.distribution[r.label] == r.distribution.max()
                   for r in records[:2000])
