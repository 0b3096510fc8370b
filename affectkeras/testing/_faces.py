"""The drawn faces of the synthetic Aff-Wild2: face parameters, expressions, action units.

A face is drawn with PIL in a canonical patch from 13 muscle-like parameters (`_PARAMS`):
mouth curvature, lips apart, brows, eyes, cheeks, ... Each expression adds its own
features to them (`_EXPRESSION_OFFSETS`), and each action unit is a threshold on the
parameter that draws it (`_AU_RULES`), so the AU labels are exactly what the face shows.
`affectkeras.testing._people` sets the parameters of each frame from a person's labels;
the docstring of `affectkeras.testing.dataset` says which labels each feature shows.
"""

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

# Side of the canonical face patch in which faces are designed, and the part of it that a
# face crop shows: forehead to chin, little background (as Aff-Wild2's aligned crops).
_PATCH = 224.0
_CROP_CENTER = (112.0, 120.0)
_CROP_SIDE = 176.0

# Face parameters, in the order of the columns of `people._Person.params`.
_PARAMS = (
    "curve",  # mouth corners up (+) / down (-): valence
    "open",  # lips apart / jaw drop: arousal, surprise, fear
    "inner",  # inner brow raise: arousal, sadness, surprise, fear
    "outer",  # outer brow raise: arousal, surprise, fear
    "lower",  # brows lowered and knitted: negative valence, anger, fear
    "eye",  # eye opening: arousal, surprise, fear
    "tighten",  # lower lid raised: anger, disgust
    "cheek",  # cheeks raised, teeth shown: happiness
    "lipraise",  # nose wrinkles, nasolabial folds: disgust
    "liptight",  # thin lips: anger
    "press",  # lips pressed, chin bulge: other
    "stretch",  # mouth widened: fear
    "asym",  # lopsided mouth: other
)
_P = {name: i for i, name in enumerate(_PARAMS)}

# Expression prototypes on the (valence, arousal) plane, in the order of EXPRESSIONS_8.
_PROTOTYPES = np.array(
    [
        (0.0, -0.35),  # Neutral
        (-0.55, 0.6),  # Anger
        (-0.75, 0.1),  # Disgust
        (-0.3, 0.85),  # Fear
        (0.65, 0.3),  # Happiness
        (-0.55, -0.55),  # Sadness
        (0.2, 0.85),  # Surprise
        (0.45, -0.6),  # Other
    ]
)

# What each expression adds to the face parameters (rows: EXPRESSIONS_8).
_EXPRESSION_OFFSETS = np.zeros((8, len(_PARAMS)))
for _row, _offsets in enumerate(
    [
        {},  # Neutral
        dict(lower=0.7, tighten=0.6, liptight=0.7, curve=-0.2, inner=-0.3),  # Anger
        dict(lipraise=0.8, lower=0.35, tighten=0.45, curve=-0.3),  # Disgust
        dict(inner=0.6, outer=0.5, lower=0.45, eye=0.45, stretch=0.7, open=0.3),  # Fear
        dict(curve=0.55, cheek=0.85, open=0.2),  # Happiness
        dict(inner=0.75, outer=-0.25, curve=-0.5, eye=-0.25),  # Sadness
        dict(inner=0.7, outer=0.85, eye=0.55, open=0.6),  # Surprise
        dict(press=0.85, asym=0.8),  # Other
    ]
):
    for _name, _value in _offsets.items():
        _EXPRESSION_OFFSETS[_row, _P[_name]] = _value

# Each action unit: (face parameter, threshold, sign). AU present = sign * param > threshold.
_AU_RULES = {
    "AU1": ("inner", 0.45, 1),
    "AU2": ("outer", 0.45, 1),
    "AU4": ("lower", 0.4, 1),
    "AU6": ("cheek", 0.4, 1),
    "AU7": ("tighten", 0.35, 1),
    "AU10": ("lipraise", 0.4, 1),
    "AU12": ("curve", 0.35, 1),
    "AU15": ("curve", 0.35, -1),
    "AU20": ("stretch", 0.4, 1),
    "AU23": ("liptight", 0.4, 1),
    "AU24": ("press", 0.4, 1),
    "AU25": ("open", 0.25, 1),
    "AU26": ("open", 0.5, 1),
}

_SKIN_TONES = (
    (255, 219, 180),
    (241, 194, 160),
    (224, 172, 120),
    (198, 140, 90),
    (160, 105, 70),
    (120, 80, 55),
)
_HAIR_COLORS = ((30, 22, 18), (70, 45, 25), (120, 85, 50), (20, 20, 25), (160, 130, 90), (95, 60, 40))
_IRIS_COLORS = ((60, 40, 25), (50, 80, 110), (70, 90, 50), (35, 30, 30))


def _appearance(rng):
    """A person's fixed look (canonical patch units) and voice."""
    skin = np.array(_SKIN_TONES[rng.integers(len(_SKIN_TONES))]) + rng.integers(-12, 13, 3)
    skin = np.clip(skin, 0, 255)
    face_w = rng.uniform(63, 69)
    face_h = rng.uniform(87, 93)
    face_cy = rng.uniform(116, 120)
    eye_y = face_cy - rng.uniform(12, 16)
    hair = _HAIR_COLORS[rng.integers(len(_HAIR_COLORS))]
    return dict(
        skin=tuple(int(v) for v in skin),
        shade=tuple(int(v * 0.82) for v in skin),
        hand=tuple(int(v) for v in np.clip(skin * 0.92 + 10, 0, 255)),
        hair=hair,
        brow=tuple(int(v * 0.55) for v in hair),  # darker than the hair: visible on any skin
        iris=_IRIS_COLORS[rng.integers(len(_IRIS_COLORS))],
        lips=tuple(int(v) for v in 0.5 * skin * np.array([0.9, 0.5, 0.5]) + [80, 10, 15]),
        shirt=tuple(int(v) for v in rng.integers(30, 220, 3)),
        face_w=face_w,
        face_h=face_h,
        face_cy=face_cy,
        hairline=face_cy - face_h * rng.uniform(0.62, 0.78),
        eye_y=eye_y,
        eye_dx=rng.uniform(28, 31),
        eye_w=rng.uniform(12, 13.5),
        brow_w=rng.uniform(4, 7),
        nose_y=face_cy + rng.uniform(20, 24),
        mouth_y=face_cy + rng.uniform(46, 50),
        mouth_w=rng.uniform(24, 27),
        lip=rng.uniform(4, 6),
        f0=rng.uniform(100, 240),
        tilt=rng.uniform(0.8, 1.4),
    )


# ----------------------------------------------------------------------------------------
# Drawing


_T = np.linspace(0.0, 1.0, 9)[:, None]


def _bezier(start, middle, end):
    """Points of the quadratic Bezier from `start` to `end` passing through `middle` at t=0.5."""
    start, middle, end = (np.asarray(p, float) for p in (start, middle, end))
    control = 2 * middle - 0.5 * (start + end)
    return (1 - _T) ** 2 * start + 2 * (1 - _T) * _T * control + _T**2 * end


def _draw_face(draw, look, p, ox, oy, s, covered):
    """Draws one person: patch point (x, y) lands on frame pixel (ox + x s, oy + y s).

    `draw` is an RGBA-mode `ImageDraw` on the RGB frame, so fills with alpha blend.
    `p` maps a parameter name to its value for this frame.
    """

    def box(x0, y0, x1, y1):
        return (ox + x0 * s, oy + y0 * s, ox + x1 * s, oy + y1 * s)

    def pts(array):
        return [(ox + x * s, oy + y * s) for x, y in array]

    def width(w):
        return max(1, int(round(w * s)))

    cx = _PATCH / 2
    fw, fh, fcy = look["face_w"], look["face_h"], look["face_cy"]
    eye_y, eye_dx, nose_y, mouth_y = look["eye_y"], look["eye_dx"], look["nose_y"], look["mouth_y"]
    skin, shade = look["skin"], look["shade"]

    # Shoulders, neck, hair behind the head, ears, face.
    draw.ellipse(box(cx - 1.9 * fw, fcy + 1.05 * fh, cx + 1.9 * fw, fcy + 2.6 * fh), fill=look["shirt"])
    draw.rectangle(box(cx - 0.42 * fw, fcy + 0.5 * fh, cx + 0.42 * fw, fcy + 1.25 * fh), fill=shade)
    draw.ellipse(box(cx - 1.1 * fw, fcy - 1.1 * fh, cx + 1.1 * fw, fcy + 0.4 * fh), fill=look["hair"])
    for side in (-1, 1):
        ex = cx + side * fw
        draw.ellipse(box(ex - 9, eye_y, ex + 9, eye_y + 30), fill=shade)
    draw.ellipse(box(cx - fw, fcy - fh, cx + fw, fcy + fh), fill=skin)
    top = fcy - fh - 6
    draw.chord(box(cx - fw - 2, top, cx + fw + 2, 2 * look["hairline"] - top), 180, 360, fill=look["hair"])

    # Cheeks (AU6): rosy, alpha-blended.
    if p["cheek"] > 0.05:
        alpha = int(150 * min(1.0, p["cheek"]))
        for side in (-1, 1):
            x = cx + side * (eye_dx + 4)
            draw.ellipse(box(x - 15, eye_y + 14, x + 15, eye_y + 32), fill=(225, 90, 100, alpha))

    # Eyes: socket shadow, white, iris, pupil, lids. Opening follows arousal (AU5-like),
    # narrowed by a tightened lid (AU7) and raised cheeks (AU6).
    eye_w = look["eye_w"]
    eye_h = 6.5 * (1 + 0.9 * p["eye"]) - 3.0 * p["tighten"] - 2.0 * p["cheek"]
    eye_h = float(np.clip(eye_h, 1.0, 12.5))
    for side in (-1, 1):
        ex = cx + side * eye_dx
        draw.ellipse(box(ex - eye_w - 4, eye_y - eye_h - 5, ex + eye_w + 4, eye_y + eye_h + 4), fill=shade)
        draw.ellipse(box(ex - eye_w, eye_y - eye_h, ex + eye_w, eye_y + eye_h), fill=(245, 245, 240))
        r = min(6.0, eye_h)
        draw.ellipse(box(ex - 6, eye_y - r, ex + 6, eye_y + r), fill=look["iris"])
        if eye_h > 2.0:
            rp = min(2.5, eye_h - 1)
            draw.ellipse(box(ex - 2.5, eye_y - rp, ex + 2.5, eye_y + rp), fill=(10, 10, 10))
        draw.arc(box(ex - eye_w, eye_y - eye_h, ex + eye_w, eye_y + eye_h), 180, 360, fill=(40, 30, 30),
                 width=width(2.5))
        lower_lid = width(1 + 2.0 * p["tighten"])
        draw.arc(box(ex - eye_w, eye_y - eye_h, ex + eye_w, eye_y + eye_h), 0, 180, fill=shade,
                 width=lower_lid)

    # Brows: inner ends rise (AU1), outer ends rise (AU2), lowered and knitted (AU4).
    for side in (-1, 1):
        x_in = cx + side * (13 - 5 * p["lower"])
        y_in = eye_y - 19 - 15 * p["inner"] + 11 * p["lower"]
        x_out = cx + side * (eye_dx + 17)
        y_out = eye_y - 17 - 15 * p["outer"]
        mid = ((x_in + x_out) / 2, min(y_in, y_out) - 4)
        draw.line(pts(_bezier((x_in, y_in), mid, (x_out, y_out))), fill=look["brow"],
                  width=width(look["brow_w"] * (1 + 0.3 * p["lower"])), joint="curve")

    # Nose: bridge shadow, base, nostrils; wrinkles across the bridge (AU10 / disgust).
    draw.line(pts([(cx - 2, eye_y + 4), (cx - 6, nose_y - 4)]), fill=shade, width=width(3))
    draw.ellipse(box(cx - 13, nose_y - 6, cx + 13, nose_y + 5), fill=shade)
    for side in (-1, 1):
        draw.ellipse(box(cx + side * 6 - 3, nose_y - 1, cx + side * 6 + 3, nose_y + 3), fill=(60, 35, 30))
    if p["lipraise"] > 0.05:
        alpha = int(230 * min(1.0, p["lipraise"]))
        for k in range(3):
            y = eye_y + 3 + 5 * k
            draw.line(pts([(cx - 8, y), (cx + 8, y)]), fill=(70, 40, 30, alpha), width=width(1.5))
        for side in (-1, 1):  # nasolabial folds
            draw.line(pts(_bezier((cx + side * 14, nose_y), (cx + side * 24, nose_y + 14),
                                  (cx + side * 28, mouth_y + 6))),
                      fill=(90, 50, 40, alpha), width=width(2))

    # Mouth: corners up with valence (AU12) or down (AU15), apart (AU25) and wide open
    # (AU26) with arousal, stretched (AU20), thin (AU23), pressed (AU24), lopsided.
    mouth_w = look["mouth_w"] * (1 + 0.35 * p["stretch"])
    corner_y = mouth_y - 19 * p["curve"]
    left = (cx - mouth_w, corner_y - 8 * p["asym"])
    right = (cx + mouth_w, corner_y + 8 * p["asym"])
    open_h = 36 * p["open"]
    lip = look["lip"] * (1 - 0.6 * p["liptight"]) * (1 - 0.4 * p["press"])
    if open_h >= 2.5:
        upper = _bezier(left, (cx, mouth_y - 0.3 * open_h), right)
        lower = _bezier(left, (cx, mouth_y + 0.7 * open_h + 3 * max(0.0, p["curve"])), right)
        draw.polygon(pts(np.concatenate([upper, lower[::-1]])), fill=(70, 20, 30))
        if p["cheek"] > 0.3:  # teeth of a laugh
            teeth = np.concatenate([upper, (upper + [0, 0.45 * open_h])[::-1]])
            draw.polygon(pts(teeth), fill=(240, 238, 230))
        draw.line(pts(upper), fill=look["lips"], width=width(lip), joint="curve")
        draw.line(pts(lower), fill=look["lips"], width=width(lip * 1.3), joint="curve")
    else:
        line = _bezier(left, (cx, mouth_y + 2 * max(0.0, p["curve"])), right)
        draw.line(pts(line), fill=look["lips"], width=width(lip * 1.6), joint="curve")
        draw.line(pts(line), fill=(80, 30, 35), width=width(1.5), joint="curve")
    if p["press"] > 0.05:  # chin bulge of pressed lips
        alpha = int(255 * min(1.0, p["press"]))
        draw.arc(box(cx - 14, mouth_y + 10, cx + 14, mouth_y + 24), 200, 340, fill=shade + (alpha,),
                 width=width(2))

    if covered:  # a hand over the face: no face found, no crop
        draw.rounded_rectangle(box(cx - 0.8 * fw, eye_y - 28, cx + 0.85 * fw, mouth_y + 32),
                               radius=20 * s, fill=look["hand"])
        for k in range(1, 4):
            y = eye_y - 28 + k * (mouth_y + 60 - eye_y) / 4
            draw.line(pts([(cx - 0.8 * fw, y), (cx + 0.5 * fw, y)]), fill=look["shade"], width=width(2))


def _background(rng, width, height):
    """A room-like backdrop: a vertical gradient with a few blurred shapes."""
    top, bottom = rng.integers(40, 220, 3), rng.integers(40, 220, 3)
    ramp = np.linspace(0.0, 1.0, height)[:, None, None]
    pixels = (top * (1 - ramp) + bottom * ramp) * np.ones((1, width, 1))
    image = Image.fromarray(pixels.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(5):
        x0, y0 = rng.uniform(0, width), rng.uniform(0, height)
        w, h = rng.uniform(0.1, 0.5) * width, rng.uniform(0.1, 0.6) * height
        # Muted shapes: a busy backdrop that moves with the head would tell the time
        # (and so the labels) to a network trained on a few videos.
        color = tuple(int(c) for c in (top + bottom) / 4 + rng.integers(20, 120, 3))
        draw.rectangle((x0, y0, x0 + w, y0 + h), fill=color)
    return image.filter(ImageFilter.GaussianBlur(3))
