"""Scene cut detection from tiny grayscale thumbnails.

A cut changes most pixels at once: the mean absolute difference of consecutive 32x18
thumbnails (0-255 scale) is 26-30 at the cuts of the test videos and at most ~13 inside a
shot, even through fast camera moves. A missed cut is the costly error (a track could jump
to another person at the same place), a false one only splits a track and costs one extra
detection, so the default sits nearer the in-shot values.
"""

import numpy as np
from PIL import Image

from affectkeras.errors import check_positive

THUMBNAIL_SIZE = (32, 18)
DEFAULT_CUT_THRESHOLD = 18.0


class SceneCutDetector:
    """Tells whether a frame starts a new shot.

    Args:
        threshold: float. Mean absolute difference (0-255) of consecutive thumbnails above
            which a frame is a cut.

    Example:
        >>> cuts = SceneCutDetector()
        >>> [cuts(gray) for gray in gray_frames]  # gray: (h, w) uint8
        [False, False, True, False]
    """

    def __init__(self, threshold=DEFAULT_CUT_THRESHOLD):
        self.threshold = float(check_positive("cut_threshold", threshold))
        self._previous = None

    def __call__(self, gray):
        """Returns True when `gray` differs from the previous frame by a cut.

        `gray` is a `(h, w)` (or `(h, w, 3)` RGB) uint8 frame, at any fixed size.

        The first frame is not a cut (nothing precedes it).
        """
        thumb = Image.fromarray(np.asarray(gray))
        if thumb.mode != "L":
            thumb = thumb.convert("L")
        thumb = thumb.resize(THUMBNAIL_SIZE, Image.BOX)
        thumb = np.asarray(thumb, np.float32)
        previous, self._previous = self._previous, thumb
        if previous is None:
            return False
        return float(np.abs(thumb - previous).mean()) > self.threshold


__all__ = ["DEFAULT_CUT_THRESHOLD", "THUMBNAIL_SIZE", "SceneCutDetector"]
