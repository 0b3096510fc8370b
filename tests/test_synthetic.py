"""Tests of `affectkeras.testing`: the synthetic Aff-Wild2 written by `write_dataset`.

One default dataset (6 videos x 150 frames) is generated once per module; the tests read
it back through the library's own readers (`affectkeras.annotations`, `affectkeras.media`),
as the preprocessing jobs will. Determinism, overwriting and the ABAW 2020 label sets use
tiny datasets of their own.
"""

import pathlib
import re

import numpy as np
import pytest
from PIL import Image

from affectkeras import media
from affectkeras.annotations import (
    TASKS,
    align_to_frames,
    find_annotation_folder,
    list_face_frames,
    read_annotation_file,
    read_annotation_set,
    source_video,
)
from affectkeras.constants import AUS_8, AUS_12, EXPRESSIONS_7, EXPRESSIONS_8, VA_NAMES
from affectkeras.errors import InvalidArgumentError
from affectkeras.media import _ffmpeg
from affectkeras.testing import MANIFEST, SyntheticDataset, write_dataset

NAME = re.compile(r"^synth-(?P<number>\d{3})-(?P<width>\d+)x(?P<height>\d+)(?P<side>_left|_right)?$")
TASK_FOLDERS = {
    "VA": "VA_Estimation_Challenge",
    "EXPR": "EXPR_Recognition_Challenge",
    "AU": "AU_Detection_Challenge",
}
SPLITS = {"train": "Train_Set", "validation": "Validation_Set"}
SENTINEL_LINE = {"VA": "-5,-5", "EXPR": "-1"}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """The default synthetic dataset, written once for the module."""
    return write_dataset(tmp_path_factory.mktemp("synthetic") / "affwild2")


def _files(root):
    """Relative path -> bytes of every file under `root`."""
    root = pathlib.Path(root)
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _all_labels(dataset, task):
    return {
        **read_annotation_set(dataset.annotations_root, task, "train"),
        **read_annotation_set(dataset.annotations_root, task, "validation"),
    }


# ------------------------------------------------------------------------------- layout


def test_layout_is_aff_wild2s(dataset):
    root = dataset.root
    assert sorted(p.name for p in root.iterdir()) == sorted(
        ["annotations", "cropped_aligned", "videos", MANIFEST]
    )  # no temporary folder left behind

    # 6 video files, 7 annotated people: video 1 holds a _left / _right pair.
    videos = sorted(p.name for p in (root / "videos").iterdir())
    assert len(videos) == 6 and all(NAME.match(v[:-4]) and v.endswith(".mp4") for v in videos)
    assert len(dataset.videos) == 7
    assert all(NAME.match(name) for name in dataset.videos)
    pair = [name for name in dataset.videos if name.endswith(("_left", "_right"))]
    assert len(pair) == 2
    sources = {source_video(name) for name in pair}
    assert sources == {(pair[0][: -len("_left")], "left"), (pair[0][: -len("_left")], "right")}
    assert dataset.video_files[pair[0]] == dataset.video_files[pair[1]]
    assert dataset.video_files[pair[0]].name == source_video(pair[0])[0] + ".mp4"
    for name in dataset.videos:
        assert dataset.video_files[name] == root / "videos" / f"{source_video(name)[0]}.mp4"
        assert dataset.video_files[name].is_file()

    # Splits: the last 2 videos are the validation set; the pair trains.
    assert set(dataset.train) | set(dataset.validation) == set(dataset.videos)
    assert len(dataset.validation) == 2 and set(pair) <= set(dataset.train)
    assert {dataset.split_of(name) for name in dataset.validation} == {"validation"}

    # One folder of crops per annotated person, one annotation file per person and task.
    assert sorted(p.name for p in (root / "cropped_aligned").iterdir()) == sorted(dataset.videos)
    assert sorted(p.name for p in (root / "annotations").iterdir()) == sorted(TASK_FOLDERS.values())
    for task, folder in TASK_FOLDERS.items():
        assert sorted(p.name for p in (root / "annotations" / folder).iterdir()) == sorted(SPLITS.values())
        for split, split_folder in SPLITS.items():
            expected = root / "annotations" / folder / split_folder
            assert find_annotation_folder(dataset.annotations_root, task, split) == expected
            names = dataset.train if split == "train" else dataset.validation
            assert sorted(p.name for p in expected.iterdir()) == sorted(f"{n}.txt" for n in names)
            assert all(dataset.annotation_files[task][n] == expected / f"{n}.txt" for n in names)


def test_manifest_loads_back(dataset):
    assert SyntheticDataset.load(dataset.root) == dataset
    with pytest.raises(FileNotFoundError, match=MANIFEST):
        SyntheticDataset.load(dataset.root / "videos")


# --------------------------------------------------------------------------- annotations


def test_annotation_files_read_back_with_their_sentinels(dataset):
    headers = {"VA": VA_NAMES, "EXPR": EXPRESSIONS_8, "AU": AUS_12}
    for task in TASKS:
        for split in SPLITS:
            labels = read_annotation_set(dataset.annotations_root, task, split)
            assert sorted(labels) == sorted(getattr(dataset, split))
            for name, item in labels.items():
                assert item.task == task and item.names == headers[task]
                assert len(item) == dataset.frames
                np.testing.assert_array_equal(item.frame_indices, np.arange(1, dataset.frames + 1))
                lines = dataset.annotation_files[task][name].read_text().splitlines()
                assert lines[0] == ",".join(headers[task]) and len(lines) == dataset.frames + 1
                if task == "AU":
                    written = np.array([set(line.split(",")) == {"-1"} for line in lines[1:]])
                    # whole rows are unannotated, as in Aff-Wild2
                    assert np.all(item.mask.all(axis=1) | ~item.mask.any(axis=1))
                else:
                    written = np.array([line == SENTINEL_LINE[task] for line in lines[1:]])
                np.testing.assert_array_equal(~item.frame_mask, written)
                # unannotated_fraction=0.1 of 150 frames, in runs of at least 3 frames
                assert written.sum() == 15
                edges = np.flatnonzero(np.diff(np.r_[0, written.astype(int), 0]))
                assert (edges[1::2] - edges[::2]).max() >= 3
                assert item.sentinel in item.values  # the sentinel survives reading


def test_labels_are_valid_and_varied(dataset):
    va = _all_labels(dataset, "VA")
    expr = _all_labels(dataset, "EXPR")
    aus = _all_labels(dataset, "AU")
    values = np.concatenate([item.values[item.mask] for item in va.values()])
    assert np.all(np.abs(values) <= 1) and values.std(axis=0).min() > 0.4
    for item in va.values():  # smooth trajectories, not noise
        annotated = item.values[item.mask]
        assert np.abs(np.diff(annotated, axis=0)).mean() < 0.1
    classes = np.concatenate([item.values[item.mask] for item in expr.values()])
    assert classes.min() >= 0 and classes.max() < 8 and len(np.unique(classes)) >= 6
    active = np.concatenate([item.values[item.frame_mask] for item in aus.values()])
    rates = active.mean(axis=0)
    assert np.all(rates > 0.02) and np.all(rates < 0.9), dict(zip(AUS_12, rates))


# --------------------------------------------------------------------------------- crops


def test_crops_are_112px_jpegs_except_the_missing_frames(dataset):
    labels = _all_labels(dataset, "VA")
    for name in dataset.videos:
        folder = dataset.crop_folders[name]
        present = list_face_frames(folder)
        missing = np.array(dataset.missing_frames[name])
        assert 0 < len(missing) < 0.1 * dataset.frames
        np.testing.assert_array_equal(
            present, np.setdiff1d(np.arange(1, dataset.frames + 1), missing)
        )
        assert all(re.fullmatch(r"\d{5}\.jpg", p.name) for p in folder.iterdir())
        for index in present:
            with Image.open(folder / f"{index:05d}.jpg") as image:
                assert image.format == "JPEG" and image.size == (112, 112) and image.mode == "RGB"
        # labels align to the crops by frame index
        aligned = align_to_frames(labels[name], present)
        np.testing.assert_array_equal(aligned.values, labels[name].values[present - 1])


# -------------------------------------------------------------------------------- videos


def test_videos_probe_as_30_fps_h264_with_audio_of_the_same_length(dataset):
    for path in sorted(set(dataset.video_files.values())):
        info = media.probe(path)
        match = NAME.match(path.stem)
        assert (info.width, info.height) == (int(match["width"]), int(match["height"]))
        assert info.video_codec == "h264"
        assert info.avg_frame_rate == 30 and not info.is_vfr
        assert info.frame_count == dataset.frames
        assert info.duration == pytest.approx(dataset.frames / 30, abs=1e-6)
        assert info.has_audio and info.sample_rate >= 16000 and info.channels == 1
        assert info.audio_duration == pytest.approx(info.duration, abs=1 / 30)
        _, lines, code = _ffmpeg.run(["-i", str(path)])
        assert any("yuv420p" in line for line in lines)
        audio = media.read_audio(path, match_video=False)
        assert len(audio) == pytest.approx(dataset.frames / 30 * 16000, abs=16000 / 30)


def test_faces_in_the_video_are_found_by_dlib_hog(dataset):
    pytest.importorskip("dlib")
    from affectkeras.faces.detection import FaceDetector

    name = dataset.validation[0]
    detect = FaceDetector("hog")
    missing = set(dataset.missing_frames[name])
    found = covered = 0
    checked = list(range(0, dataset.frames, 10))
    for frame in media.iter_frames(dataset.video_files[name]):
        if frame.index in checked:
            boxes = detect(frame.image)
            if frame.index + 1 in missing:
                covered += len(boxes)
            else:
                found += len(boxes) == 1
    assert found >= len(checked) - len(missing) - 1
    assert covered == 0


# -------------------------------------------------------------------------------- signal


def _mouth_curvature(image):
    """Rows of the lips at the centre minus at the corners: > 0 when the corners are up."""
    red = image[..., 0] - (image[..., 1] + image[..., 2]) / 2  # lips are redder than skin
    box = red[64:108, 30:82]
    weight = np.maximum(box - np.percentile(box, 60), 0)
    rows = np.arange(64, 108)[:, None]

    def centroid(cols):
        return (rows * weight[:, cols]).sum() / (weight[:, cols].sum() + 1e-6)

    return centroid(slice(20, 32)) - (centroid(slice(2, 14)) + centroid(slice(38, 50))) / 2


def _eye_opening(image):
    """Rows of the eye band that hold eye white (bright, unsaturated pixels)."""
    band = image[30:62, 12:100]
    white = (band.min(axis=-1) > 130) & (np.ptp(band, axis=-1) < 45)
    return white.any(axis=1).sum()


def test_faces_carry_valence_and_arousal(dataset):
    va = _all_labels(dataset, "VA")
    mouth, eyes, targets = [], [], []
    for name in dataset.videos:  # pooled over all people: the cue holds for every face
        for index in list_face_frames(dataset.crop_folders[name]):
            if va[name].mask[index - 1]:
                image = np.asarray(Image.open(dataset.crop_folders[name] / f"{index:05d}.jpg"), float)
                mouth.append(_mouth_curvature(image))
                eyes.append(_eye_opening(image))
                targets.append(va[name].values[index - 1])
    targets = np.array(targets)
    assert np.corrcoef(mouth, targets[:, 0])[0, 1] > 0.6  # smile <-> valence (~0.9)
    assert np.corrcoef(eyes, targets[:, 1])[0, 1] > 0.6  # eye opening <-> arousal (~0.8)


def test_voice_loudness_follows_arousal(dataset):
    va = _all_labels(dataset, "VA")
    hop = 16000 // 30
    for name in dataset.videos:
        if source_video(name)[1] is not None:
            continue  # the pair's track mixes two voices
        signal = media.read_audio(dataset.video_files[name])
        frames = signal[: dataset.frames * hop].reshape(dataset.frames, hop)
        level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
        mask = va[name].mask
        assert np.corrcoef(level[mask], va[name].values[mask, 1])[0, 1] > 0.6  # ~0.98


# ----------------------------------------------------------------------- determinism etc.

SMALL = dict(num_videos=2, frames=30, validation_videos=1)


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    first = write_dataset(tmp_path / "a", seed=3, **SMALL)
    write_dataset(tmp_path / "b", seed=3, workers=1, **SMALL)  # threads or not: same bytes
    write_dataset(tmp_path / "c", seed=4, **SMALL)
    a, b, c = (_files(tmp_path / x) for x in "abc")
    assert a == b  # annotation files, JPEG crops, mp4 files and manifest, byte for byte
    assert any(path.startswith("cropped_aligned") for path in a)
    for folder in ("annotations", "cropped_aligned"):
        same = [p for p in a if p.startswith(folder) and p in c and a[p] == c[p]]
        assert not same, same[:3]
    assert first.videos == tuple(sorted(["synth-001-640x360_left", "synth-001-640x360_right",
                                         "synth-002-480x360"]))


def test_second_call_refuses_unless_overwrite(tmp_path):
    root = tmp_path / "synth"
    write_dataset(root, seed=1, **SMALL)
    before = _files(root)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_dataset(root, seed=2, **SMALL)
    assert _files(root) == before
    write_dataset(root, seed=2, overwrite=True, **SMALL)
    after = _files(root)
    assert after != before and set(after) == {p for p in after if not p.startswith(".synthetic")}
    assert sorted(p.name for p in root.iterdir()) == sorted(
        ["annotations", "cropped_aligned", "videos", MANIFEST]
    )


def test_overwrite_never_deletes_what_it_did_not_write(tmp_path):
    root = tmp_path / "real"
    (root / "videos").mkdir(parents=True)
    (root / "videos" / "keep.mp4").write_bytes(b"not ours")
    with pytest.raises(FileExistsError, match=MANIFEST):
        write_dataset(root, overwrite=True, **SMALL)
    assert (root / "videos" / "keep.mp4").read_bytes() == b"not ours"
    other = tmp_path / "a_file"
    other.write_text("x")
    with pytest.raises(InvalidArgumentError, match="`root`"):
        write_dataset(other, **SMALL)


def test_abaw_2020_label_sets_and_a_single_video(tmp_path):
    dataset = write_dataset(
        tmp_path / "s", num_videos=1, frames=12, num_expressions=7, num_aus=8,
        unannotated_fraction=0.0, validation_videos=0,
    )
    assert dataset.videos == dataset.train == ("synth-001-640x360",) and dataset.validation == ()
    expr = read_annotation_file(dataset.annotation_files["EXPR"]["synth-001-640x360"])
    au = read_annotation_file(dataset.annotation_files["AU"]["synth-001-640x360"])
    assert expr.names == EXPRESSIONS_7 and expr.mask.all() and expr.values.max() < 7
    assert au.names == AUS_8 and au.mask.all() and len(au) == 12
    assert read_annotation_set(dataset.annotations_root, "VA", "validation") == {}
    missing = dataset.missing_frames["synth-001-640x360"]
    assert len(list_face_frames(dataset.crop_folders["synth-001-640x360"])) == 12 - len(missing)
    tiny = write_dataset(tmp_path / "t", num_videos=1, frames=1, validation_videos=0)
    assert tiny.missing_frames["synth-001-640x360"] == ()  # none in clips under 10 frames
    assert media.probe(tiny.video_files["synth-001-640x360"]).frame_count == 1


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(num_videos=0), "num_videos"),
        (dict(num_videos=2.0), "num_videos"),
        (dict(frames=0), "frames"),
        (dict(frames=True), "frames"),
        (dict(size=8), "size"),
        (dict(fps=0), "fps"),
        (dict(fps=29.97), "fps"),
        (dict(num_expressions=6), "num_expressions"),
        (dict(num_aus=10), "num_aus"),
        (dict(unannotated_fraction=1.0), "unannotated_fraction"),
        (dict(unannotated_fraction=-0.1), "unannotated_fraction"),
        (dict(unannotated_fraction="0.1"), "unannotated_fraction"),
        (dict(validation_videos=6), "validation_videos"),
        (dict(validation_videos=-1), "validation_videos"),
        (dict(seed=-1), "seed"),
        (dict(seed="0"), "seed"),
        (dict(overwrite=1), "overwrite"),
        (dict(workers=0), "workers"),
    ],
)
def test_bad_arguments_name_the_argument(tmp_path, kwargs, name):
    root = tmp_path / "never"
    with pytest.raises(InvalidArgumentError, match=f"`{name}`.*Received: {name}="):
        write_dataset(root, **kwargs)
    assert not root.exists()  # checked before anything is written


def test_bad_root():
    with pytest.raises(InvalidArgumentError, match="`root`"):
        write_dataset(None)


def test_a_failed_encode_leaves_no_partial_dataset(tmp_path, monkeypatch):
    from affectkeras.testing import dataset as synthetic
    from affectkeras.errors import MediaError

    monkeypatch.setattr(synthetic, "VIDEO_SIZES", ((321, 241),))  # odd: yuv420p refuses it
    root = tmp_path / "s"
    with pytest.raises(MediaError, match=r"synth-001-321x241\.mp4"):
        write_dataset(root, num_videos=1, frames=12, validation_videos=0)
    assert list(root.iterdir()) == []  # the staging folder is gone, nothing half-written
