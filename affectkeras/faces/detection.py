"""Face detection with dlib: the HOG detector (default) or the CNN (mmod) detector.

Detection runs on a downscaled grayscale copy of the frame (HOG on gray is as accurate as
on RGB here and ~30 % faster; a 320 px wide image with one upsampling costs ~16 ms on one
core against ~80 ms at 640 px) and the boxes are scaled back to source pixels. The
smallest face found is about `80 * source_width / (width * 2**upsample)` source pixels
wide (dlib's detection window is 80x80): 80 px in a 640 px frame with the defaults.
"""

import typing

import numpy as np
from PIL import Image

from affectkeras.errors import InvalidArgumentError, check_choice, check_positive
from affectkeras.faces import _models

DETECTORS = ("hog", "cnn")


class Detection(typing.NamedTuple):
    """One detected face.

    Attributes:
        box: tuple of 4 floats. `(x0, y0, x1, y1)` in source pixels (may reach outside the
            frame for a face cut by its border).
        score: float. Detector confidence (HOG: SVM margin, above `threshold`; CNN: mmod
            confidence).
    """

    box: tuple
    score: float


def to_small(image, width):
    """Returns a frame scaled to `width` pixels (None or wider: as is), colours kept.

    Args:
        image: np.ndarray of uint8, `(height, width, 3)` or `(height, width)`.
        width: int or None. Output width; the height keeps the aspect ratio.

    Returns:
        np.ndarray of uint8.
    """
    image = np.asarray(image)
    if width is None or width >= image.shape[1]:
        return _models.writable(image)
    height = max(1, round(image.shape[0] * width / image.shape[1]))
    pil = Image.fromarray(image).resize((width, height), Image.BILINEAR, reducing_gap=None)
    return np.array(pil)  # a writable copy: dlib converts read-only arrays slowly


def to_small_gray(image, width):
    """Returns a grayscale copy of an RGB frame scaled to `width` pixels (None: as is).

    Args:
        image: np.ndarray of uint8, `(height, width, 3)` RGB or `(height, width)` gray.
        width: int or None. Output width; the height keeps the aspect ratio. Never upscales.

    Returns:
        np.ndarray of uint8, `(round(height * width / source_width), width)`.

    Example:
        >>> to_small_gray(np.zeros((360, 640, 3), np.uint8), 320).shape
        (180, 320)
    """
    pil = Image.fromarray(np.asarray(image))
    if pil.mode != "L":
        pil = pil.convert("L")
    if width is not None and width < pil.width:
        height = max(1, round(pil.height * width / pil.width))
        pil = pil.resize((width, height), Image.BILINEAR, reducing_gap=None)
    # A writable array: dlib takes a slow path for read-only ones (HOG 27 ms against 13 ms).
    return np.array(pil)


class FaceDetector:
    """Finds faces in RGB frames with dlib, on a downscaled grayscale copy.

    Args:
        detector: str. "hog" (default: dlib's frontal face detector, ~16 ms per 320x180
            frame with one upsampling on one core) or "cnn" (dlib's mmod CNN from
            `face_recognition_models`: finds turned and small faces the HOG misses, ~1.7 s
            per frame on one CPU core; meant for a GPU build of dlib or sparse detection).
        width: int or None. Width in pixels of the image the detector sees (frames wider
            than this are scaled down); None detects at the source size.
        upsample: int. How many times the detector doubles the image first (finds faces
            half as large per step, ~3x slower per step).
        threshold: float. Score offset: lower finds more faces (and more false ones).
            HOG scores start at this value; ignored by "cnn" except as a minimum score.

    Example:
        >>> detect = FaceDetector(width=320)
        >>> [d.box for d in detect(frame)]  # frame: (360, 640, 3) uint8 RGB
        [(350.0, 64.0, 564.0, 278.0)]
    """

    def __init__(self, detector="hog", *, width=320, upsample=1, threshold=0.0):
        check_choice("detector", detector, DETECTORS)
        if width is not None:
            check_positive("width", width, integer=True)
        check_positive("upsample", upsample, integer=True, allow_zero=True)
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
            raise InvalidArgumentError(
                f"`threshold` must be a number. Received: threshold={threshold!r}"
            )
        self.detector = detector
        self.width = width
        self.upsample = upsample
        self.threshold = float(threshold)

    def prepare(self, image):
        """Returns the downscaled image the detector works on (grayscale for "hog").

        The CNN keeps the colours: on gray frames its scores drop and it misses faces.
        """
        if self.detector == "hog":
            return to_small_gray(image, self.width)
        return to_small(image, self.width)

    def detect_prepared(self, small, source_width):
        """Detects faces in an image from `prepare`; boxes in source pixels.

        Args:
            small: np.ndarray of uint8, `(h, w)` or `(h, w, 3)`. Output of `prepare`.
            source_width: int. Width of the source frame, for scaling the boxes back.

        Returns:
            list of `Detection`, best score first.
        """
        scale = source_width / small.shape[1]
        if self.detector == "hog":
            rects, scores, _ = _models.hog_detector().run(small, self.upsample, self.threshold)
            found = list(zip(rects, scores))
        else:
            small = np.ascontiguousarray(small)
            if small.ndim == 2:
                small = np.repeat(small[:, :, None], 3, axis=2)
            found = [(d.rect, d.confidence) for d in _models.cnn_detector()(small, self.upsample)]
            found = [(r, s) for r, s in found if s >= self.threshold]
        detections = [
            Detection(
                (r.left() * scale, r.top() * scale, (r.right() + 1) * scale,
                 (r.bottom() + 1) * scale),
                float(s),
            )
            for r, s in found
        ]
        detections.sort(key=lambda d: -d.score)
        return detections

    def __call__(self, image):
        """Detects the faces of one RGB frame.

        Args:
            image: np.ndarray of uint8, `(height, width, 3)` RGB (or `(height, width)` gray).

        Returns:
            list of `Detection`, boxes in the frame's pixels, best score first.
        """
        image = np.asarray(image)
        return self.detect_prepared(self.prepare(image), image.shape[1])


__all__ = ["DETECTORS", "Detection", "FaceDetector", "to_small", "to_small_gray"]
