"""Five facial landmarks (dlib's 5-point shape predictor) and aligned face chips.

The 5-point model (eye corners and the base of the nose, from `face_recognition_models`)
costs ~0.3 ms per face on one core and is what `dlib.get_face_chip` aligns with: the chip
is rotated upright, scaled and centred as dlib's face recognition expects (the same
alignment as the 112x112 `cropped_aligned` images of Aff-Wild2, up to the padding).
"""

import numpy as np

from affectkeras.faces import _models

# Order of the points of dlib's 5-point model.
LANDMARK_NAMES = (
    "right_eye_outer", "right_eye_inner", "left_eye_outer", "left_eye_inner", "nose_base"
)


def _rectangle(box):
    dlib = _models.dlib()
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    return dlib.rectangle(x0, y0, max(x0 + 1, x1 - 1), max(y0 + 1, y1 - 1))


def fit_landmarks(image, box):
    """Fits the 5 landmarks of the face inside `box`.

    Args:
        image: np.ndarray of uint8, `(height, width, 3)` RGB or `(height, width)` gray.
        box: tuple `(x0, y0, x1, y1)`. The face's box in the image's pixels.

    Returns:
        np.ndarray of float32, `(5, 2)`: `(x, y)` per point, in `LANDMARK_NAMES` order.

    Example:
        >>> fit_landmarks(frame, (350, 64, 564, 278)).shape
        (5, 2)
    """
    shape = _models.shape_predictor()(_models.writable(image), _rectangle(box))
    return np.array([(p.x, p.y) for p in shape.parts()], np.float32)


def _full_object_detection(landmarks):
    dlib = _models.dlib()
    points = np.round(np.asarray(landmarks, np.float64)).astype(int)
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    parts = dlib.points([dlib.point(int(x), int(y)) for x, y in points])
    return dlib.full_object_detection(dlib.rectangle(int(x0), int(y0), int(x1), int(y1)), parts)


def align_face(image, landmarks, size=96, padding=0.25):
    """Cuts the face out of a frame, rotated upright and scaled to `size` x `size`.

    Args:
        image: np.ndarray of uint8, `(height, width, 3)` RGB.
        landmarks: array-like `(5, 2)`. The face's 5 landmarks (`fit_landmarks`).
        size: int. Side of the chip in pixels (96 for the VGG-Face networks, 112 for the
            ArcFace ones).
        padding: float. Margin around dlib's reference face, as a fraction of its size:
            0.25 (dlib's default) shows the face from forehead to chin; 0 is a tight crop.

    Returns:
        np.ndarray of uint8, `(size, size, 3)` RGB.

    Example:
        >>> align_face(frame, fit_landmarks(frame, box), size=112).shape
        (112, 112, 3)
    """
    dlib = _models.dlib()
    image = np.ascontiguousarray(image)
    return dlib.get_face_chip(image, _full_object_detection(landmarks), size, padding)


def crop_landmarks(crop, padding=0.25):
    """Fits dlib's 68 landmarks on an aligned face crop: AffWildNet's extra input.

    The crop is upright and centred (`align_face`), so the face sits in the crop's central
    square that dlib's alignment maps its reference face to (a `padding` margin on each
    side): the 68-point model is fitted in that box, on the crop the network sees. On a
    database's own aligned crops (Aff-Wild2's `cropped_aligned`) the same box is assumed;
    their margins differ somewhat from dlib's, which was not measured here.

    Args:
        crop: np.ndarray of uint8, `(size, size, 3)` RGB.
        padding: float. The crop's margin (`align_face`'s; 0.25 by default).

    Returns:
        np.ndarray of float32, `(68, 2)`: `(x, y)` of each point (iBUG 300-W order: jaw
        0-16, brows 17-26, nose 27-35, eyes 36-47, mouth 48-67) divided by the crop's side.

    Example:
        >>> crop_landmarks(align_face(frame, fit_landmarks(frame, box))).shape
        (68, 2)
    """
    crop = _models.writable(crop)
    size = crop.shape[1]
    margin = size * padding / (1 + 2 * padding)
    dlib = _models.dlib()
    box = dlib.rectangle(int(round(margin)), int(round(margin)), int(round(size - margin)), int(round(size - margin)))
    shape = _models.shape_predictor_68()(crop, box)
    return np.array([(p.x, p.y) for p in shape.parts()], np.float32) / size


def eye_distance(landmarks):
    """Distance between the two eye centres, in pixels (the scale of a face)."""
    landmarks = np.asarray(landmarks, np.float32)
    right = landmarks[0:2].mean(axis=0)
    left = landmarks[2:4].mean(axis=0)
    return float(np.hypot(*(left - right)))


def box_geometry(box, landmarks):
    """Expresses a face box relative to its landmarks, for `box_from_landmarks`.

    Args:
        box: tuple `(x0, y0, x1, y1)`.
        landmarks: array-like `(5, 2)`. The face's landmarks, fitted in `box`.

    Returns:
        np.ndarray of float32, `(5,)`: the box's corners relative to the landmarks'
        centroid (`x0, y0, x1, y1`, pixels) and the eye distance.
    """
    landmarks = np.asarray(landmarks, np.float32)
    cx, cy = landmarks.mean(axis=0)
    x0, y0, x1, y1 = box
    return np.array([x0 - cx, y0 - cy, x1 - cx, y1 - cy, eye_distance(landmarks)], np.float32)


def box_from_landmarks(landmarks, geometry):
    """Places a box of the geometry's size on the centroid of moved landmarks.

    The size is kept rather than scaled with the landmarks: a fit that comes out slightly
    too large would otherwise give a larger box, a larger fit, and so on until the box
    fills the frame (seen on turned faces).

    Args:
        landmarks: array-like `(5, 2)`.
        geometry: array-like `(5,)`. From `box_geometry`.

    Returns:
        tuple of 4 floats `(x0, y0, x1, y1)`.
    """
    cx, cy = np.asarray(landmarks, np.float32).mean(axis=0)
    x0, y0, x1, y1 = (float(v) for v in geometry[:4])
    return (float(cx) + x0, float(cy) + y0, float(cx) + x1, float(cy) + y1)


__all__ = ["LANDMARK_NAMES", "align_face", "crop_landmarks", "box_from_landmarks", "box_geometry", "eye_distance", "fit_landmarks"]
