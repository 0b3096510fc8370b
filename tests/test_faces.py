"""Tests of `affectkeras.faces`: detection, tracking, person linking, alignment, extraction.

Real clips come from `../shared/data/video` (the `shared_data` fixture skips without
them); the odd cases are small videos made here with ffmpeg. Ground truth of the Hamilton
clip, read off its frames at 30 fps: a wide shot of the performer (output frames 0-44,
face ~50 px), a profile close-up of him (45-106, no frontal face), a frontal medium shot
of him (107-236, face ~90 px), then the audience (237-300: four faces, most of them
turned; the HOG detector finds only the woman at the left edge, from frame ~266 at the
default detection width).
"""

import collections
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from affectkeras import media
from affectkeras.errors import InvalidArgumentError, MediaError
from affectkeras.faces import (
    FaceDetector,
    FaceRecord,
    FaceTracker,
    SceneCutDetector,
    align_face,
    extract_faces,
    fit_landmarks,
    iter_faces,
    link_tracks,
)
from affectkeras.faces import alignment, identity, tracking
from affectkeras.media._ffmpeg import ffmpeg_exe

WOLFGANG = "WolfgangLanger_Pexels.mp4"  # 19.7 s, 640x360, 23.976 fps, one frontal face
HAMILTON = "short_hamilton_clip.mp4"  # 10 s, 640x360, 29.97 fps, performer and audience
HAMILTON_CUTS = (45, 107, 237)  # first output frames of its shots
MEDIUM_SHOT = range(110, 234)  # frontal performer
AUDIENCE = range(240, 301)

_CACHE = {}


def _cached(key, compute):
    """Computes an extraction once per test session (several tests read each)."""
    if key not in _CACHE:
        _CACHE[key] = compute()
    return _CACHE[key]


def _ffmpeg(*args):
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *map(str, args)], check=True)


def _frame_count(path):
    return sum(1 for _ in media.iter_frames(path, size=(64, -1)))


def _video(shared_data, name):
    path = shared_data / "video" / name
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture
def wolfgang(shared_data):
    path = _video(shared_data, WOLFGANG)
    return path, _cached("wolfgang", lambda: extract_faces(path))


@pytest.fixture
def hamilton(shared_data):
    path = _video(shared_data, HAMILTON)
    return path, _cached("hamilton", lambda: extract_faces(path))


@pytest.fixture
def wolfgang_clip(shared_data, tmp_path_factory):
    """1.5 s of the Wolfgang video with source frames 14-17 painted black (output 18-22)."""

    def make():
        path = tmp_path_factory.mktemp("faces") / "gap.mp4"
        black = "drawbox=enable='between(n,14,17)':x=0:y=0:w=iw:h=ih:color=black:t=fill"
        _ffmpeg("-t", 1.5, "-i", _video(shared_data, WOLFGANG), "-an", "-vf", black,
                "-c:v", "libx264", "-preset", "ultrafast", path)
        return path

    return _cached("wolfgang_clip", make)


@pytest.fixture(scope="module")
def testsrc(tmp_path_factory):
    """2 s of ffmpeg's colour test pattern: no face at all."""
    path = tmp_path_factory.mktemp("faces") / "testsrc.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=duration=2:size=320x240:rate=25",
            "-pix_fmt", "yuv420p", path)
    return path


def _present(records):
    return [r for r in records if r.crop is not None]


# ------------------------------------------------------------------- one frontal face


def test_wolfgang_one_record_per_output_frame(wolfgang):
    path, records = wolfgang
    assert len(records) == _frame_count(path) == 591
    assert [r.frame_index for r in records] == list(range(len(records)))
    assert all(isinstance(r, FaceRecord) for r in records)
    np.testing.assert_allclose([r.time for r in records], np.arange(len(records)) / 30)
    sources = [r.source_index for r in records]
    assert sources[0] == 0 and np.all(np.diff(sources) >= 0)  # 23.976 fps: repeats


def test_wolfgang_face_in_almost_every_frame(wolfgang):
    _, records = wolfgang
    present = _present(records)
    assert len(present) >= 0.95 * len(records)
    for record in present:
        assert record.crop.shape == (96, 96, 3) and record.crop.dtype == np.uint8
        assert record.landmarks.shape == (5, 2) and record.landmarks.dtype == np.float32
    # One dominant track, one person.
    tracks = collections.Counter(r.track_id for r in present)
    assert tracks.most_common(1)[0][1] >= 0.95 * len(present)
    assert len({r.person_id for r in present}) == 1


def test_wolfgang_boxes_are_plausible(wolfgang):
    _, records = wolfgang
    boxes = np.array([r.box for r in _present(records)])
    x0, y0, x1, y1 = boxes.T
    assert np.all((0 <= x0) & (x0 < x1) & (x1 <= 640))
    assert np.all((0 <= y0) & (y0 < y1) & (y1 <= 360))
    assert np.all((x1 - x0 > 120) & (x1 - x0 < 330))  # a face filling most of the height
    # The landmarks lie inside their box (within a small margin).
    for record in _present(records)[::10]:
        (bx0, by0, bx1, by1), points = record.box, record.landmarks
        margin = 0.1 * (bx1 - bx0)
        assert np.all(points[:, 0] > bx0 - margin) and np.all(points[:, 0] < bx1 + margin)
        assert np.all(points[:, 1] > by0 - margin) and np.all(points[:, 1] < by1 + margin)
    # Consecutive boxes move smoothly: the tracked box never jumps across the frame.
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    assert np.max(np.abs(np.diff(centres, axis=0))) < 60


def test_crops_are_aligned_faces(wolfgang):
    """The eyes of an aligned crop lie level, in the upper half, symmetric about the centre."""
    _, records = wolfgang
    record = _present(records)[300]
    chip_landmarks = fit_landmarks(record.crop, (0, 0, 96, 96))
    right_eye = chip_landmarks[0:2].mean(axis=0)
    left_eye = chip_landmarks[2:4].mean(axis=0)
    assert abs(right_eye[1] - left_eye[1]) < 4  # upright
    assert 20 < right_eye[1] < 50 and left_eye[0] < 48 < right_eye[0]
    assert abs((left_eye[0] + right_eye[0]) / 2 - 48) < 6


def _mapping_to_chip(landmarks, size, padding):
    """dlib's `get_mapping_to_chip` (interpolation.h): source pixels -> chip pixels, as an affine 3x2."""
    import dlib

    from affectkeras.faces.alignment import _full_object_detection

    details = dlib.get_face_chip_details(_full_object_detection(landmarks), size, padding)
    rect, angle = details.rect, details.angle
    centre = np.array([(rect.left() + rect.right()) / 2, (rect.top() + rect.bottom()) / 2])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    corners = np.array([(rect.left(), rect.top()), (rect.right(), rect.top()), (rect.right(), rect.bottom())])
    source = (corners - centre) @ rotation.T + centre
    chip = np.array([(0, 0), (details.cols - 1, 0), (details.cols - 1, details.rows - 1)], float)
    return np.linalg.solve(np.c_[source, np.ones(3)], chip)


def test_crop_landmarks_match_the_frames_landmarks_mapped_into_the_crop(wolfgang):
    """AffWildNet's 68 landmarks, fitted on the crop, agree with a fit on the source frame
    carried into the crop by dlib's own chip mapping (an independent route)."""
    from affectkeras.faces import _models, crop_landmarks

    path, records = wolfgang
    wanted = {r.frame_index: r for r in _present(records)[::60][:6]}
    errors = []
    for frame in media.iter_frames(path, fps=30):
        record = wanted.get(frame.index)
        if record is None:
            continue
        x0, y0, x1, y1 = (int(round(v)) for v in record.box)
        shape = _models.shape_predictor_68()(_models.writable(frame.image), _models.dlib().rectangle(x0, y0, x1, y1))
        points = np.array([(p.x, p.y) for p in shape.parts()], float)
        mapped = np.c_[points, np.ones(68)] @ _mapping_to_chip(record.landmarks, 96, 0.25) / 96
        on_crop = crop_landmarks(record.crop)
        assert on_crop.shape == (68, 2) and on_crop.dtype == np.float32
        errors.append(np.abs(mapped - on_crop).mean())
    assert len(errors) == 6
    assert np.mean(errors) < 0.02, errors  # ~1 px of a 96 px crop (measured: 0.009 on average)


# ------------------------------------------------------------- several faces and cuts


def test_scene_cuts_of_hamilton(shared_data):
    path = _video(shared_data, HAMILTON)
    detector = SceneCutDetector()
    cuts = [f.index for f in media.iter_frames(path, size=(160, -1)) if detector(f.image)]
    assert set(HAMILTON_CUTS) <= set(cuts) and len(cuts) <= 5


def test_hamilton_main_subject_is_the_performer(hamilton):
    path, records = hamilton
    assert len(records) == _frame_count(path) == 301
    assert [r.frame_index for r in records] == list(range(301))
    present = _present(records)
    # The performer's medium shot is the longest, so he is the main subject there ...
    in_shot = [records[i] for i in MEDIUM_SHOT]
    assert sum(r.crop is not None for r in in_shot) >= 0.9 * len(in_shot)
    main_track = collections.Counter(r.track_id for r in present).most_common(1)[0][0]
    assert sum(r.track_id == main_track for r in present) >= 0.9 * len(present)
    # ... with a consistent box: left of centre, about 90 px wide, never jumping.
    boxes = np.array([r.box for r in in_shot if r.box is not None])
    centres = (boxes[:, 0] + boxes[:, 2]) / 2
    widths = boxes[:, 2] - boxes[:, 0]
    assert np.all((140 < centres) & (centres < 360)) and np.all((60 < widths) & (widths < 140))
    assert np.max(np.abs(np.diff(centres))) < 40
    # The audience is somebody else: no main-subject crop there.
    assert all(records[i].crop is None for i in AUDIENCE)


def test_hamilton_all_faces_have_their_own_tracks(shared_data, hamilton):
    path = _video(shared_data, HAMILTON)
    records = _cached("hamilton_all", lambda: extract_faces(path, subject="all", size=None))
    by_frame = collections.defaultdict(list)
    for record in records:
        by_frame[record.frame_index].append(record)
    assert sorted(by_frame) == list(range(301))
    assert all(r.crop is None for r in records)  # size=None: boxes only
    _, main_records = hamilton
    main_tracks = {r.track_id for r in _present(main_records)}
    audience = [r for i in AUDIENCE for r in by_frame[i] if r.box is not None]
    assert len(audience) >= 5  # the woman at the left edge, late in the shot
    assert not {r.track_id for r in audience} & main_tracks
    assert not {r.person_id for r in audience} & {r.person_id for r in _present(main_records)}
    # Within a frame, faces come left to right with distinct track ids.
    for faces in by_frame.values():
        if len(faces) > 1:
            assert [f.box[0] for f in faces] == sorted(f.box[0] for f in faces)
            assert len({f.track_id for f in faces}) == len(faces)


def test_audience_with_cnn_detector_gives_several_tracks(shared_data, tmp_path):
    """The CNN detector finds the turned faces of the audience: 3-4 tracks per frame."""
    path = tmp_path / "audience.mp4"
    _ffmpeg("-ss", 8.0, "-i", _video(shared_data, HAMILTON), "-t", 0.5, "-an",
            "-c:v", "libx264", "-preset", "ultrafast", path)
    records = extract_faces(path, subject="all", detector="cnn", detect_every=8, size=112)
    by_frame = collections.defaultdict(list)
    for record in records:
        by_frame[record.frame_index].append(record)
    assert len(by_frame) == _frame_count(path)
    for faces in by_frame.values():
        assert len({f.track_id for f in faces if f.box is not None}) >= 3
    tracks = {r.track_id for r in records}
    assert len(tracks) >= 3 and len({r.person_id for r in records}) == len(tracks)
    assert all(r.crop.shape == (112, 112, 3) for r in records)
    # Tracks persist between the two detections (frames 0 and 8): three run throughout.
    lengths = collections.Counter(r.track_id for r in records)
    assert sum(n == len(by_frame) for n in lengths.values()) >= 3


def test_person_linking_across_cuts(shared_data):
    """At full detection width the performer's wide shot and medium shot are one person."""
    path = _video(shared_data, HAMILTON)
    records = extract_faces(path, downscale=None, size=None)
    present = [r for r in records if r.box is not None]
    wide = [r for r in present if r.frame_index < HAMILTON_CUTS[0]]
    medium = [r for r in present if r.frame_index in MEDIUM_SHOT]
    assert len(wide) >= 30 and len(medium) >= 100
    assert {r.track_id for r in wide}.isdisjoint({r.track_id for r in medium})  # cut
    assert len({r.person_id for r in present}) == 1
    assert all(records[i].box is None for i in AUDIENCE)


# --------------------------------------------------------------- synthetic and edge cases


def test_video_without_faces(testsrc):
    count = _frame_count(testsrc)
    for subject in ("persistent", "largest", "all"):
        records = extract_faces(testsrc, subject=subject)
        assert len(records) == count == 60
        assert all(r.box is None and r.crop is None and r.track_id is None for r in records)
        assert all(r.landmarks is None and not r.filled for r in records)


def test_gap_filling(wolfgang_clip):
    exact = dict(detect_every=1, cut_threshold=None, size=64)  # every frame detected
    gap = range(18, 23)  # the black frames
    plain = extract_faces(wolfgang_clip, **exact)
    assert len(plain) == _frame_count(wolfgang_clip) == 45
    assert all(plain[i].box is None for i in gap)
    assert all(r.box is not None for r in plain if r.frame_index not in gap)
    assert len({r.track_id for r in _present(plain)}) == 1  # the id outlives the gap

    filled = extract_faces(wolfgang_clip, fill_gaps=5, **exact)
    assert [r.filled for r in filled] == [i in gap for i in range(45)]
    before, after = np.array(filled[17].box), np.array(filled[23].box)
    for i in gap:
        weight = (i - 17) / 6
        np.testing.assert_allclose(filled[i].box, before + (after - before) * weight, atol=1e-3)
        assert filled[i].crop.shape == (64, 64, 3) and filled[i].score is None
        assert filled[i].track_id == filled[17].track_id
    # A gap longer than `fill_gaps` stays empty.
    short = extract_faces(wolfgang_clip, fill_gaps=4, **exact)
    assert not any(r.filled for r in short) and all(short[i].box is None for i in gap)


def test_no_filling_across_scene_cuts(wolfgang_clip):
    """Black frames are cuts: tracks end there and the gap is not bridged."""
    records = extract_faces(wolfgang_clip, detect_every=1, fill_gaps=8, size=None)
    assert not any(r.filled for r in records)
    before = {r.track_id for r in records[:18] if r.box is not None}
    after = {r.track_id for r in records[23:] if r.box is not None}
    assert before and after and before.isdisjoint(after)
    # The face descriptor links the two tracks back into one person.
    assert len({r.person_id for r in records if r.box is not None}) == 1


def test_modes_and_trackers_agree_on_one_face(wolfgang_clip):
    reference = extract_faces(wolfgang_clip, detect_every=1, cut_threshold=None, size=None)
    for kwargs in (dict(subject="largest"), dict(tracker="correlation"), dict(detect_every=10)):
        records = extract_faces(wolfgang_clip, size=None, cut_threshold=None, **kwargs)
        assert len(records) == 45
        for ours, ref in zip(records, reference):
            if ours.box is not None and ref.box is not None:
                assert tracking.iou(ours.box, ref.box) > 0.5, kwargs
        if kwargs.get("subject") == "largest":
            assert all(r.person_id is None for r in records)


def test_iter_faces_streams(wolfgang_clip):
    stream = iter_faces(wolfgang_clip, size=112)
    first = next(stream)
    assert first.frame_index == 0 and first.crop.shape == (112, 112, 3)
    stream.close()  # stopping early is fine


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(detector="haar"), "detector"),
        (dict(detect_every=0), "detect_every"),
        (dict(detect_every=2.5), "detect_every"),
        (dict(size=0), "size"),
        (dict(subject="biggest"), "subject"),
        (dict(fill_gaps=-1), "fill_gaps"),
        (dict(downscale=0), "downscale"),
        (dict(upsample=-1), "upsample"),
        (dict(tracker="kcf"), "tracker"),
        (dict(keep_alive=-1), "keep_alive"),
        (dict(cut_threshold=0), "cut_threshold"),
        (dict(padding=-0.1), "padding"),
        (dict(fps=0), "fps"),
    ],
)
def test_bad_arguments_name_the_argument(testsrc, kwargs, name):
    with pytest.raises(InvalidArgumentError, match=f"`{name}`.*Received: {name}="):
        iter_faces(testsrc, **kwargs)  # raised at the call, before any decoding


def test_bad_files_name_the_file(tmp_path):
    missing = tmp_path / "missing.mp4"
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        extract_faces(missing)
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(MediaError, match="notes.mp4"):
        iter_faces(text)


# ------------------------------------------------------------------------- the parts


def test_detector_and_alignment_on_one_frame(shared_data):
    path = _video(shared_data, WOLFGANG)
    frame = next(f.image for f in media.iter_frames(path) if f.index == 300)
    detections = FaceDetector()(frame)
    assert len(detections) == 1
    x0, y0, x1, y1 = detections[0].box
    assert 250 < (x0 + x1) / 2 < 600 and 100 < x1 - x0 < 330
    # A read-only frame (as iter_frames yields) and its copy give the same landmarks.
    landmarks = fit_landmarks(frame, detections[0].box)
    np.testing.assert_array_equal(landmarks, fit_landmarks(np.array(frame), detections[0].box))
    chip = align_face(frame, landmarks, size=112, padding=0.0)
    assert chip.shape == (112, 112, 3) and chip.dtype == np.uint8 and chip.std() > 10
    assert FaceDetector(width=None, upsample=0)(np.zeros((120, 160, 3), np.uint8)) == []


def test_box_geometry_round_trip():
    landmarks = np.array([[60, 50], [50, 50], [30, 50], [40, 50], [45, 70]], np.float32)
    box = (20.0, 30.0, 80.0, 95.0)
    geometry = alignment.box_geometry(box, landmarks)
    np.testing.assert_allclose(alignment.box_from_landmarks(landmarks, geometry), box, atol=1e-4)
    moved = alignment.box_from_landmarks(landmarks + [7, -3], geometry)
    np.testing.assert_allclose(moved, (27, 27, 87, 92), atol=1e-4)
    assert alignment.eye_distance(landmarks) == pytest.approx(20.0)


def test_iou():
    assert tracking.iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert tracking.iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)
    assert tracking.iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0


def test_tracker_rejects_bad_arguments():
    with pytest.raises(InvalidArgumentError, match="detect_every"):
        FaceTracker(FaceDetector(), detect_every=0)
    with pytest.raises(InvalidArgumentError, match="width"):
        FaceDetector(width=-5)


def test_link_tracks_keeps_overlapping_tracks_apart(wolfgang):
    _, records = wolfgang
    present = _present(records)
    # Crops are aligned like dlib's 150 px chips (padding 0.25): scaled, they serve as such.
    chips = [np.array(Image.fromarray(present[i].crop).resize((150, 150))) for i in (50, 400)]

    def summary(track_id, first, last):
        s = identity.TrackSummary(track_id, first, last, frames=last - first + 1, detections=5)
        s.chips = [(1.0, first, chips[track_id % 2])]
        return s

    # Same face, never on screen together: one person.
    assert link_tracks([summary(0, 0, 40), summary(1, 60, 99)]) == {0: 0, 1: 0}
    # Same face at the same time (two boxes): two persons.
    assert link_tracks([summary(0, 0, 40), summary(1, 30, 99)]) == {0: 0, 1: 1}
    # Too few detections: not compared.
    lone = summary(1, 60, 99)
    lone.detections = 1
    assert link_tracks([summary(0, 0, 40), lone]) == {0: 0, 1: 1}


def test_link_tracks_computes_descriptors_only_for_comparisons(monkeypatch):
    """One track, or tracks on screen together: nothing to compare, no descriptor (~0.1 s each)."""
    calls = []
    monkeypatch.setattr(identity, "face_descriptor", lambda chip: calls.append(chip) or np.zeros(128))

    def summary(track_id, first, last):
        s = identity.TrackSummary(track_id, first, last, frames=last - first + 1, detections=5)
        s.chips = [(1.0, first, np.zeros((150, 150, 3), np.uint8))] * 3
        return s

    assert link_tracks([summary(0, 0, 40)]) == {0: 0} and calls == []
    assert link_tracks([summary(0, 0, 40), summary(1, 30, 99)]) == {0: 0, 1: 1} and calls == []
    assert link_tracks([summary(0, 0, 40), summary(1, 60, 99)]) == {0: 0, 1: 0} and len(calls) == 6


def test_track_summary_keeps_spread_chips():
    s = identity.TrackSummary(0, 0, 0)
    for frame, score in [(0, 1.0), (5, 2.0), (10, 0.5), (40, 0.7), (80, 0.9), (120, 1.5)]:
        s.add_chip(score, frame, lambda: np.zeros((2, 2, 3), np.uint8))
    kept = sorted((frame, score) for score, frame, _ in s.chips)
    assert len(kept) <= identity.CHIPS_PER_TRACK
    frames = [f for f, _ in kept]
    assert all(b - a >= identity.CHIP_SPACING for a, b in zip(frames, frames[1:]))
    assert (5, 2.0) in kept and (120, 1.5) in kept


# ------------------------------------------------------------- extraction in its own process


def _assert_same_records(got, expected):
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        assert (a.frame_index, a.box, a.track_id) == (b.frame_index, b.box, b.track_id)
        assert (a.crop is None and b.crop is None) or np.array_equal(a.crop, b.crop)


@pytest.mark.parametrize("clip", ["wolfgang", "hamilton"])
def test_face_stream_gives_iter_faces_records_and_choices_in_one_pass(clip, wolfgang_clip, shared_data):
    """Every face as `subject="all"` gives it; at the end the main subject `"persistent"` chose."""
    from affectkeras.faces import FaceStream

    video = wolfgang_clip if clip == "wolfgang" else shared_data / "video" / "short_hamilton_clip.mp4"
    stream = FaceStream(video, size=96)
    assert stream.main_tracks is None
    got = list(stream)
    _assert_same_records(got, extract_faces(video, size=96, subject="all"))
    main = [r for r in got if r.track_id in stream.main_tracks]
    assert len({r.frame_index for r in main}) == len(main)  # at most one face per frame
    persistent = [r for r in extract_faces(video, size=96) if r.crop is not None]
    _assert_same_records(main, persistent)
    assert {stream.persons[r.track_id] for r in main} == {persistent[0].person_id}
    if clip == "hamilton":  # the audience's faces are other persons, not the main subject
        assert len(set(stream.persons.values())) >= 2 and len(got) > len(persistent)
    else:  # a second pass starts afresh (a new tracker)
        _assert_same_records(list(stream), got)


def test_background_extraction_gives_the_same_records(wolfgang_clip):
    from affectkeras.faces import FaceStream
    from affectkeras.faces.background import FacesInBackground

    expected = FaceStream(wolfgang_clip, size=96)
    with FacesInBackground(wolfgang_clip, size=96, ahead=4) as records:  # a short queue: the child waits
        _assert_same_records(list(records), list(expected))
    assert (records.persons, records.main_tracks) == (expected.persons, expected.main_tracks)
    # The process that finished stays warm and takes the next video, with the same result.
    with FacesInBackground(wolfgang_clip, size=96) as again:
        assert again._process.pid == records._process.pid
        _assert_same_records(list(again), list(expected))
    assert (again.persons, again.main_tracks) == (expected.persons, expected.main_tracks)


def test_a_warm_extraction_process_follows_the_callers_folder_and_environment(tmp_path, wolfgang_clip,
                                                                             monkeypatch):
    """A relative path names the caller's file after a chdir; another environment (an
    ffmpeg chosen by variable, say) gets a fresh process; closing twice changes nothing."""
    from affectkeras.faces import FaceStream
    from affectkeras.faces.background import FacesInBackground

    with FacesInBackground(wolfgang_clip, size=96) as first:
        list(first)
    first.close()
    _ffmpeg("-t", 0.5, "-i", wolfgang_clip, "-an", "-c:v", "libx264", "-preset", "ultrafast", tmp_path / "clip.mp4")
    monkeypatch.chdir(tmp_path)
    expected = list(FaceStream(tmp_path / "clip.mp4", size=96))
    with FacesInBackground("clip.mp4", size=96) as warm:
        assert warm._process.pid == first._process.pid
        _assert_same_records(list(warm), expected)
    monkeypatch.setenv("AFFECTKERAS_TEST_VARIABLE", "1")
    with FacesInBackground("clip.mp4", size=96) as fresh:
        assert fresh._process.pid != warm._process.pid
        _assert_same_records(list(fresh), expected)
    assert warm._process.poll() is not None  # the process of the old environment has ended


def test_background_extraction_raises_the_videos_error_and_stops_early(tmp_path, wolfgang_clip):
    from affectkeras.faces.background import FacesInBackground

    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(MediaError, match="bad.mp4"), FacesInBackground(bad, size=96) as failed:
        list(failed)
    with FacesInBackground(wolfgang_clip, size=96) as records:
        assert records._process.pid == failed._process.pid  # an error leaves the process warm
        assert next(iter(records)).frame_index == 0
    assert records._process.poll() is not None  # the consumer stopped early: the process has ended
    with FacesInBackground(wolfgang_clip, size=96) as fresh:
        assert fresh._process.pid != records._process.pid and next(iter(fresh)).frame_index == 0


@pytest.mark.skipif(not pathlib.Path("/proc/self/task").is_dir(), reason="threads have their own priority on Linux")
def test_the_network_threads_yield_their_cores_to_the_faces():
    """In a process of its own (priorities cannot be raised again): the threads that exist
    are lowered to nice 10 (never raised, when the tests themselves run under `nice`), the
    caller and the threads (processes) it starts afterwards are not."""
    script = """
import os, threading
from affectkeras.faces.background import yield_cores_to_faces
gate = threading.Event()
def wait():
    gate.wait()
def nice(thread):
    return os.getpriority(os.PRIO_PROCESS, thread.native_id)
start = nice(threading.main_thread())
earlier = threading.Thread(target=wait); earlier.start()
count = yield_cores_to_faces()
later = threading.Thread(target=wait); later.start()
print(start, count, nice(earlier), nice(threading.main_thread()), nice(later))
gate.set()
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    start, count, earlier, caller, later = map(int, result.stdout.split())
    assert (earlier, caller, later) == (max(start, 10), start, start)
    assert count >= 1 if start < 10 else count == 0  # count: also numpy's BLAS threads
