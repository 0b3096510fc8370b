"""Faces in videos: dlib detection, tracking across frames, 5-point alignment, crops.

The pipeline of DESIGN section 4 between the 30-fps frames and the 96/112 px crops:
detect every few frames on a downscaled grayscale copy (`detection`), follow the faces in
between and start over at scene cuts (`tracking`, `scenes`), link the tracks of one
person across cuts (`identity`), and cut each face out upright (`alignment`). A frame
without a face is kept as an empty record, so labels stay aligned by frame index.

Example:
    >>> from affectkeras import faces
    >>> records = faces.extract_faces("clip.mp4", size=96)
    >>> len(records) == sum(1 for _ in media.iter_frames("clip.mp4"))
    True
    >>> records[0].box, records[0].track_id, records[0].crop.shape
    ((350.0, 64.0, 564.0, 278.0), 0, (96, 96, 3))
"""

from affectkeras.faces.alignment import (
    LANDMARK_NAMES,
    align_face,
    crop_landmarks,
    fit_landmarks,
)
from affectkeras.faces.detection import DETECTORS, Detection, FaceDetector
from affectkeras.faces.extract import SUBJECTS, FaceRecord, FaceStream, extract_faces, iter_faces
from affectkeras.faces.identity import face_descriptor, link_tracks
from affectkeras.faces.scenes import SceneCutDetector
from affectkeras.faces.tracking import TRACKERS, FaceTracker, TrackedFace

__all__ = [
    "DETECTORS",
    "Detection",
    "FaceDetector",
    "FaceRecord",
    "FaceStream",
    "FaceTracker",
    "LANDMARK_NAMES",
    "SUBJECTS",
    "SceneCutDetector",
    "TRACKERS",
    "TrackedFace",
    "align_face",
    "crop_landmarks",
    "extract_faces",
    "face_descriptor",
    "fit_landmarks",
    "iter_faces",
    "link_tracks",
]
