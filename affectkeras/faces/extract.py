"""`extract_faces`: from a video file to one aligned face crop per 30-fps frame.

Two passes over the video, each streaming one frame at a time:

1. Analysis: decode at the output rate, detect every `detect_every` source frames (and at
   each scene cut), track in between, fit 5 landmarks; keep only boxes and landmarks per
   frame (~100 bytes), plus three 150 px chips per track for the person linking. Source frames
   shown at several output ticks (a 24 fps video at 30 fps) are analysed once.
2. Cropping: with the subject chosen and the gaps filled (both need the whole video),
   decode again and cut each chosen face out, upright and scaled to `size`.

Decoding twice (~2 ms per 640x360 frame) keeps memory bounded by the length of the box
table, never by the video; `size=None` skips the second pass.

`FaceStream` is the single-pass form for consumers that can wait for the subject choice:
every tracked face is cut out during the analysis and given at once, and the persons and
the main subject are known when the stream ends (the predictor runs its network on the
faces while the video is still being analysed).
"""

import dataclasses
import typing

import numpy as np

from affectkeras import media
from affectkeras.constants import FPS
from affectkeras.errors import InvalidArgumentError, MediaError, check_choice, check_positive
from affectkeras.faces import alignment, identity
from affectkeras.faces.detection import FaceDetector
from affectkeras.faces.scenes import DEFAULT_CUT_THRESHOLD
from affectkeras.faces.tracking import FaceTracker

SUBJECTS = ("persistent", "largest", "all")


class FaceRecord(typing.NamedTuple):
    """One face (or its absence) in one output frame, as `iter_faces` yields it.

    Attributes:
        frame_index: int. Output frame index (30 fps by default), 0-based.
        time: float. Output time in seconds: `frame_index / fps`.
        source_index: int. Index of the decoded source frame shown at that time.
        box: tuple of 4 floats or None. `(x0, y0, x1, y1)` in source pixels, clipped to
            the frame; None when there is no face.
        landmarks: np.ndarray of float32 `(5, 2)` or None. Eye corners and nose base,
            `(x, y)` in source pixels (order: `alignment.LANDMARK_NAMES`).
        crop: np.ndarray of uint8 `(size, size, 3)` or None. The aligned RGB face.
        track_id: int or None. The track this face belongs to (tracks end at scene cuts).
        person_id: int or None. Tracks of the same face linked across cuts by dlib's face
            descriptor ("persistent" and "all" modes; None for "largest").
        score: float or None. Detector score where the box comes from a detection on this
            frame; None where it was tracked or filled.
        filled: bool. True where the face was missing and was interpolated (`fill_gaps`).
    """

    frame_index: int
    time: float
    source_index: int
    box: typing.Optional[tuple] = None
    landmarks: typing.Optional[np.ndarray] = None
    crop: typing.Optional[np.ndarray] = None
    track_id: typing.Optional[int] = None
    person_id: typing.Optional[int] = None
    score: typing.Optional[float] = None
    filled: bool = False


@dataclasses.dataclass
class _Face:
    track_id: int
    box: tuple
    landmarks: np.ndarray
    score: typing.Optional[float]
    person_id: typing.Optional[int] = None
    filled: bool = False


@dataclasses.dataclass
class _Analysis:
    width: int = 0
    height: int = 0
    times: list = dataclasses.field(default_factory=list)
    sources: list = dataclasses.field(default_factory=list)
    faces: list = dataclasses.field(default_factory=list)  # per output frame: tuple of _Face
    cuts: list = dataclasses.field(default_factory=list)  # per output frame: starts a shot
    tracks: dict = dataclasses.field(default_factory=dict)  # track_id -> TrackSummary


def extract_faces(video_path, **kwargs):
    """Detects, tracks and aligns the faces of a video: one record per output frame.

    The list form of `iter_faces` (same arguments): it holds every crop, about 27 KB per
    frame at `size=96` (~50 MB per minute of video); stream long videos with `iter_faces`.

    Args:
        video_path: str or path-like. The video file.
        **kwargs: the keyword arguments of `iter_faces`.

    Returns:
        list of `FaceRecord`; with `subject="persistent"` or `"largest"`,
        `len(records)` is the number of output frames and `records[n].frame_index == n`.

    Example:
        >>> records = extract_faces("clip.mp4", size=112)
        >>> faces = np.stack([r.crop for r in records if r.crop is not None])
        >>> present = np.array([r.crop is not None for r in records])  # label mask
    """
    return list(iter_faces(video_path, **kwargs))


def iter_faces(video_path, *, fps=FPS, size=96, padding=0.25, subject="persistent",
               detector="hog", detect_every=5, downscale=320, upsample=1,
               tracker="landmarks", keep_alive=15, cut_threshold=DEFAULT_CUT_THRESHOLD,
               fill_gaps=0):
    """Streams the faces of a video, aligned and cropped, one output frame at a time.

    Frames without a face are never dropped: they give a record with `box=None` and
    `crop=None` at their own `frame_index`, so labels align by index. The first record
    comes after a first pass over the whole video (detection and tracking; choosing the
    subject needs every frame); memory stays bounded by that pass's box table.

    Args:
        video_path: str or path-like. The video file (anything ffmpeg reads).
        fps: number, Fraction or None. Output frame rate (30, as in the papers); None
            keeps the source frames.
        size: int or None. Side of the square crops in pixels: 96 (VGG-Face networks)
            or 112 (ArcFace networks). None gives boxes and landmarks only (no second pass).
        padding: float. Margin around the aligned face (`alignment.align_face`); 0.25
            shows forehead to chin.
        subject: str. Which faces to report:
            - "persistent" (default): the main subject, the person (tracks linked across
              cuts by face descriptor) visible in the most frames; one record per frame,
              None where that person is not visible, even if other faces are.
            - "largest": the largest face of each frame, whoever it is; one record per
              frame.
            - "all": every face, one record per face ordered left to right within a frame,
              frame order kept; a frame without faces gives one empty record. For videos
              with several annotated people (Aff-Wild2's `_left` / `_right`), select a
              person's records by `person_id` or `track_id`.
        detector: str. "hog" (default, ~16 ms per detection) or "cnn" (dlib's mmod CNN:
            finds turned faces too, ~1.7 s per detection on a CPU core).
        detect_every: int. Detect on every k-th source frame and after each scene cut,
            track in between; 1 detects on every frame.
        downscale: int or None. Width in pixels of the downscaled copy the detector
            sees (grayscale for "hog"); None detects at the source size. With
            `upsample=1`, the smallest face found is ~`40 * source_width / downscale`
            source pixels wide (80 px in a 640 px frame with the default 320).
        upsample: int. Times the detector doubles its image (finds smaller faces, slower).
        tracker: str. "landmarks" (default: re-fits the landmarks in the previous box,
            ~0.6 ms per face) or "correlation" (dlib's correlation tracker, ~3.5 ms).
        keep_alive: int. Source frames a track missed by the detector keeps its id.
        cut_threshold: float or None. Scene cut sensitivity (mean absolute difference of
            32x18 thumbnails, 0-255); tracks never continue across a cut; None: no cuts.
        fill_gaps: int. Fill a missing face in a gap of at most this many output frames
            between two frames of the same track (same person for "persistent") and shot:
            box and landmarks interpolated, crop re-aligned from them (it shows whatever
            hid the face), `filled=True`. 0 (default) disables.

    Returns:
        A generator of `FaceRecord`, in frame order.

    Raises:
        FileNotFoundError: the video does not exist.
        MediaError: the video cannot be decoded (the message names the file).
        InvalidArgumentError: an argument is invalid (the message names it).

    Example:
        >>> for record in iter_faces("10-60-1280x720.mp4", size=112, fill_gaps=5):
        ...     if record.crop is not None:
        ...         Image.fromarray(record.crop).save(f"{record.frame_index + 1:05d}.jpg")
    """
    check_choice("subject", subject, SUBJECTS)
    check_positive("fill_gaps", fill_gaps, integer=True, allow_zero=True)
    new_tracker = _tracker_factory(video_path, fps, size, padding, detector, detect_every, downscale, upsample,
                                   tracker, keep_alive, cut_threshold)
    return _iter_faces(video_path, fps, size, padding, subject, new_tracker(), fill_gaps)


class FaceStream:
    """Every tracked face of a video, aligned and cropped in a single pass, as the video plays.

    `iter_faces` gives its first record after a whole pass over the video, because choosing
    the subject needs every frame. A consumer that can make that choice at the end (the
    predictor: it runs its network on every face while the video is still being analysed,
    then keeps the main subject's rows) iterates a `FaceStream` instead: one record per
    face of each output frame, left to right, cut out as soon as the frame is analysed
    (`subject="all"`'s records, without `person_id`; one empty record for a frame without
    faces). When the iteration ends, `persons` and `main_tracks` hold the choices that
    `iter_faces` makes: `subject="persistent"`'s face of a frame is its face whose track
    is in `main_tracks` (linked tracks never overlap in time, so there is at most one).

    Args:
        video_path: str or path-like. The video file.
        link_persons: bool. Link tracks into persons at the end (`persons`, `main_tracks`);
            False skips the face descriptors and leaves both None.
        fps, size, padding, detector, detect_every, downscale, upsample, tracker,
            keep_alive, cut_threshold: as `iter_faces` (`size` must be an int here).

    Attributes:
        persons: dict `{track_id: person_id}` or None (before the end, or without linking).
        main_tracks: frozenset of the main subject's track ids, or None likewise.

    Raises:
        As `iter_faces`: at construction for arguments and a missing video, while iterating
        for a video that cannot be decoded.

    Example:
        >>> stream = FaceStream("clip.mp4", size=96)
        >>> crops = {(r.frame_index, r.track_id): r.crop for r in stream if r.crop is not None}
        >>> main = {key: crop for key, crop in crops.items() if key[1] in stream.main_tracks}
    """

    def __init__(self, video_path, *, fps=FPS, size=96, padding=0.25, detector="hog", detect_every=5,
                 downscale=320, upsample=1, tracker="landmarks", keep_alive=15,
                 cut_threshold=DEFAULT_CUT_THRESHOLD, link_persons=True):
        if size is None:
            raise InvalidArgumentError("FaceStream cuts the faces out: `size` must be an int. Received: size=None")
        self._new_tracker = _tracker_factory(video_path, fps, size, padding, detector, detect_every, downscale,
                                             upsample, tracker, keep_alive, cut_threshold)
        self._path, self._fps, self._size, self._padding = video_path, fps, size, padding
        self._link = link_persons
        self.persons = self.main_tracks = None

    def __iter__(self):
        analysis = _Analysis()
        shown_image, faces, crops = None, [], []
        for index, image, tracked in _analyse(self._path, self._fps, self._new_tracker(), self._link, analysis):
            if image is not shown_image:  # a source frame shown at several output ticks is cut once
                shown_image, faces = image, _left_to_right(tracked)
                crops = [alignment.align_face(image, face.landmarks, self._size, self._padding) for face in faces]
            yield from _records(analysis, index, faces, crops)
        if self._link:
            self.persons = _link_persons(analysis)
            main = _main_person(analysis)
            self.main_tracks = frozenset(track for track, person in self.persons.items() if person == main)


def _tracker_factory(video_path, fps, size, padding, detector, detect_every, downscale, upsample, tracker,
                     keep_alive, cut_threshold):
    """Checks the arguments shared by `iter_faces` and `FaceStream`; returns a function that
    makes a new `FaceTracker` (one per pass over the video: a tracker keeps state)."""
    if size is not None:
        check_positive("size", size, integer=True)
    check_positive("padding", padding, allow_zero=True)
    if downscale is not None:
        check_positive("downscale", downscale, integer=True)
    face_detector = FaceDetector(detector, width=downscale, upsample=upsample)

    def new_tracker():
        return FaceTracker(face_detector, detect_every=detect_every, keep_alive=keep_alive, tracker=tracker,
                           cut_threshold=cut_threshold)

    new_tracker()  # checks the tracker's own arguments now
    media.iter_frames(video_path, fps=fps).close()  # bad path or fps: fail here, not later
    return new_tracker


def _iter_faces(path, fps, size, padding, subject, face_tracker, fill_gaps):
    analysis = _Analysis()
    for _ in _analyse(path, fps, face_tracker, subject != "largest", analysis):
        pass
    if subject != "largest":
        _link_persons(analysis)
    chosen = _choose(analysis, subject)
    if fill_gaps:
        chosen = _fill(chosen, analysis.cuts, fill_gaps, subject)
    if size is None:
        for index, faces in enumerate(chosen):
            yield from _records(analysis, index, faces, [None] * len(faces))
        return
    cache_source, cache = None, {}
    count = 0
    for frame in media.iter_frames(path, fps=fps):
        index = frame.index
        if index >= len(chosen) or frame.source_index != analysis.sources[index]:
            raise MediaError(path, "the second decoding pass differs from the first")
        if frame.source_index != cache_source:
            cache_source, cache = frame.source_index, {}
        crops = []
        for face in chosen[index]:
            key = (face.track_id, face.landmarks.tobytes())
            if key not in cache:
                cache[key] = alignment.align_face(frame.image, face.landmarks, size, padding)
            crops.append(cache[key])
        yield from _records(analysis, index, chosen[index], crops)
        count += 1
    if count != len(chosen):
        raise MediaError(path, "the second decoding pass differs from the first")


def _analyse(path, fps, face_tracker, with_chips, result):
    """First pass: boxes and landmarks of every face of every output frame, into `result`
    (an `_Analysis`); yields `(output index, source image, faces)` frame by frame."""
    faces, previous_source, image = (), None, None
    for frame in media.iter_frames(path, fps=fps):
        cut = False
        if frame.source_index != previous_source:
            previous_source = frame.source_index
            image = frame.image
            result.height, result.width = image.shape[:2]
            tracked = face_tracker.update(image)
            cut = face_tracker.last_was_cut
            faces = tuple(_Face(t.track_id, t.box, t.landmarks, t.score) for t in tracked)
            for face in faces:
                if face.score is not None:
                    _note_detection(result, face, image, with_chips)
        index = len(result.faces)
        result.times.append(frame.time)
        result.sources.append(frame.source_index)
        result.faces.append(faces)
        result.cuts.append(cut)
        for face in faces:
            summary = result.tracks.setdefault(
                face.track_id, identity.TrackSummary(face.track_id, index, index)
            )
            summary.last = index
            summary.frames += 1
        yield index, image, faces


def _note_detection(result, face, image, with_chips):
    """Counts a detector hit and offers its chip to the track's chips (person linking)."""
    summary = result.tracks.setdefault(
        face.track_id, identity.TrackSummary(face.track_id, len(result.faces), len(result.faces))
    )
    summary.detections += 1
    if with_chips:
        summary.add_chip(
            face.score,
            len(result.faces),
            lambda: alignment.align_face(
                image, face.landmarks, identity.DESCRIPTOR_CHIP, identity.DESCRIPTOR_PADDING
            ),
        )


def _link_persons(analysis):
    """Sets every face's `person_id` (`identity.link_tracks`); returns `{track_id: person_id}`."""
    persons = identity.link_tracks(list(analysis.tracks.values()))
    for faces in analysis.faces:
        for face in faces:
            face.person_id = persons[face.track_id]
    return persons


def _main_person(analysis):
    """The person visible in the most frames (ties: the larger median face); None without faces."""
    frames_per_person = {}
    area_per_person = {}
    for faces in analysis.faces:
        for face in faces:
            frames_per_person[face.person_id] = frames_per_person.get(face.person_id, 0) + 1
            area_per_person.setdefault(face.person_id, []).append(_area(face))
    if not frames_per_person:
        return None
    return max(frames_per_person, key=lambda p: (frames_per_person[p], np.median(area_per_person[p])))


def _left_to_right(faces):
    return sorted(faces, key=lambda f: f.box[0])


def _choose(analysis, subject):
    """Per output frame, the list of faces to report."""
    if subject == "all":
        return [_left_to_right(faces) for faces in analysis.faces]
    if subject == "largest":
        return [[max(faces, key=_area)] if faces else [] for faces in analysis.faces]
    main = _main_person(analysis)
    # Linked tracks never overlap in time: at most one face of the main person per frame.
    return [[f for f in faces if f.person_id == main][:1] for faces in analysis.faces]


def _area(face):
    x0, y0, x1, y1 = face.box
    return (x1 - x0) * (y1 - y0)


def _fill(chosen, cuts, max_gap, subject):
    """Interpolates faces missing for at most `max_gap` frames inside one track and shot.

    "persistent" fills between two faces of the main person, the other modes between two
    faces of one track; the single-face modes never fill a frame that has another face.
    """
    key = (lambda f: f.person_id) if subject == "persistent" else (lambda f: f.track_id)
    last_seen = {}  # key -> (frame index, face)
    filled = [list(faces) for faces in chosen]
    shot = np.cumsum(cuts)  # shot number of every frame
    for index, faces in enumerate(chosen):
        for face in faces:
            k = key(face)
            if k in last_seen:
                start, before = last_seen[k]
                gap = index - start - 1
                free = subject == "all" or not any(chosen[start + 1:index])
                if 0 < gap <= max_gap and shot[start] == shot[index] and free:
                    for missing in range(start + 1, index):
                        weight = (missing - start) / (index - start)
                        filled[missing].append(_interpolate(before, face, weight))
            last_seen[k] = (index, face)
    return [_left_to_right(faces) for faces in filled]


def _interpolate(before, after, weight):
    box = tuple(float(a + (b - a) * weight) for a, b in zip(before.box, after.box))
    landmarks = (before.landmarks + (after.landmarks - before.landmarks) * weight).astype(
        np.float32
    )
    nearest = before if weight <= 0.5 else after
    return _Face(nearest.track_id, box, landmarks, None, nearest.person_id, filled=True)


def _records(analysis, index, faces, crops):
    """The `FaceRecord`s of one output frame (one empty record when it has no face)."""
    time, source = analysis.times[index], analysis.sources[index]
    if not faces:
        yield FaceRecord(index, time, source)
        return
    for face, crop in zip(faces, crops):
        x0, y0, x1, y1 = face.box
        box = (
            float(min(max(x0, 0.0), analysis.width)),
            float(min(max(y0, 0.0), analysis.height)),
            float(min(max(x1, 0.0), analysis.width)),
            float(min(max(y1, 0.0), analysis.height)),
        )
        yield FaceRecord(
            index, time, source, box, face.landmarks, crop, face.track_id, face.person_id,
            face.score, face.filled,
        )


__all__ = ["SUBJECTS", "extract_faces", "FaceRecord", "FaceStream", "iter_faces"]
