"""Linking tracks into persons: the same face seen in several shots is one person.

Tracks end at every scene cut (and when a face is lost for long), so a performer filmed
from two cameras gets a new track at each cut. Each track with at least two detector hits
gets dlib's 128-D face descriptors of the 150 px chips of up to three good detections a
second or more apart (~80 ms each on one core, per track, not per frame). A track joins
the person whose descriptors are nearest on average, if that mean distance is under
`max_distance` (dlib's same-person threshold, 0.6) and the two are never on screen at the
same time; the longest tracks are placed first. On the Hamilton clip the performer's
wide-shot track (50 px face) and medium-shot track are 0.56 apart, and 0.83-0.88 from an
audience member; with only each track's best chip they were 0.65 apart (not linked):
chips from several moments matter.
"""

import dataclasses

import numpy as np

from affectkeras.faces import _models

# Side and padding of the chips dlib's face descriptor expects.
DESCRIPTOR_CHIP = 150
DESCRIPTOR_PADDING = 0.25
SAME_PERSON_DISTANCE = 0.6
# Chips kept per track for the descriptors, at least this many frames apart.
CHIPS_PER_TRACK = 3
CHIP_SPACING = 30


@dataclasses.dataclass
class TrackSummary:
    """What the person linking needs to know about one track.

    Attributes:
        track_id: int.
        first: int. First output frame where the track is visible.
        last: int. Last output frame where the track is visible.
        frames: int. Number of output frames where it is visible.
        detections: int. Number of detector hits.
        chips: list of `(score, frame, chip)`. 150x150 RGB chips of good detections
            spread over the track (at most `CHIPS_PER_TRACK`, see `add_chip`).
    """

    track_id: int
    first: int
    last: int
    frames: int = 0
    detections: int = 0
    chips: list = dataclasses.field(default_factory=list)

    def add_chip(self, score, frame, make_chip):
        """Offers a detection for `chips`; `make_chip()` cuts its chip if it is kept.

        Keeps the best detection of each second (`CHIP_SPACING` frames) and, of those,
        the `CHIPS_PER_TRACK` best: chips from different moments of a track average out
        its expressions and poses better than the best few neighbouring frames.
        """
        near = [item for item in self.chips if abs(item[1] - frame) < CHIP_SPACING]
        if near:
            if score <= max(item[0] for item in near):
                return
            self.chips = [item for item in self.chips if abs(item[1] - frame) >= CHIP_SPACING]
        elif len(self.chips) >= CHIPS_PER_TRACK:
            worst = min(self.chips, key=lambda item: item[0])
            if score <= worst[0]:
                return
            self.chips.remove(worst)
        self.chips.append((score, frame, make_chip()))


def face_descriptor(chip):
    """Returns dlib's 128-D descriptor of a 150x150 chip aligned by `align_face`.

    Args:
        chip: np.ndarray of uint8, `(150, 150, 3)` RGB (`align_face(..., size=150,
            padding=0.25)`).

    Returns:
        np.ndarray of float32, `(128,)`.
    """
    return np.asarray(_models.face_encoder().compute_face_descriptor(chip), np.float32)


def link_tracks(summaries, *, max_distance=SAME_PERSON_DISTANCE, min_detections=2):
    """Groups tracks into persons.

    Args:
        summaries: list of `TrackSummary`.
        max_distance: float. Largest mean distance between the descriptors of a track and
            those of a person it joins.
        min_detections: int. Tracks with fewer detector hits are not compared (each is a
            person of its own): a short track is often a false detection.

    Returns:
        dict `{track_id: person_id}`; person ids are 0, 1, ... in order of first appearance.

    Example:
        >>> a = TrackSummary(0, 0, 40, frames=41, detections=9, chips=[(1.2, 5, chip_a)])
        >>> b = TrackSummary(1, 60, 99, frames=40, detections=8, chips=[(0.9, 70, chip_b)])
        >>> link_tracks([a, b])
        {0: 0, 1: 0}  # chip_a and chip_b show the same face
    """
    computed = {}

    def descriptors(summary):  # computed only when a comparison needs them (~0.1 s per chip)
        if summary.detections < min_detections:
            return []
        if summary.track_id not in computed:
            computed[summary.track_id] = [face_descriptor(chip) for _, _, chip in summary.chips]
        return computed[summary.track_id]

    persons = []  # each: the list of its tracks' summaries
    for summary in sorted(summaries, key=lambda s: (-s.frames, s.first)):
        best, best_distance = None, max_distance
        for person in persons:
            if summary.detections < min_detections or _overlaps(summary, person):
                continue
            theirs = [d for track in person for d in descriptors(track)]
            ours = descriptors(summary)
            if not theirs or not ours:
                continue
            distance = np.mean([np.linalg.norm(a - b) for a in ours for b in theirs])
            if distance < best_distance:
                best, best_distance = person, distance
        if best is None:
            best = []
            persons.append(best)
        best.append(summary)
    persons.sort(key=lambda person: min(s.first for s in person))
    return {s.track_id: pid for pid, person in enumerate(persons) for s in person}


def _overlaps(summary, tracks):
    return any(summary.first <= t.last and t.first <= summary.last for t in tracks)


__all__ = [
    "CHIPS_PER_TRACK",
    "CHIP_SPACING",
    "DESCRIPTOR_CHIP",
    "DESCRIPTOR_PADDING",
    "SAME_PERSON_DISTANCE",
    "face_descriptor",
    "link_tracks",
    "TrackSummary",
]
