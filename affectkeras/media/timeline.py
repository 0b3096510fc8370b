"""Source frame timestamps and their mapping to a constant output frame rate (30 fps).

The papers convert every video to 30 fps with ffmpeg's `fps` filter. That filter puts each
source frame on the output grid at `round(pts * fps)` (halves away from zero) and shows,
at output tick `n`, the last source frame whose grid index is `<= n`: frames are repeated
to fill gaps and dropped when several land on one tick. With `start_time=0` (used here,
so that output time 0 is the start of the file, as for the audio) a video that starts late
is padded with copies of its first frame. The filter stops at `round(end * fps)`, where
`end` is the last frame's timestamp plus its duration.

`FrameTimeline` reproduces that rule exactly in integer arithmetic, so the source frame it
names for an output frame is the one `iter_frames` (and `ffmpeg -vf fps=30:start_time=0`)
yields there; for a variable-frame-rate video it is the nearest frame in time, never more
than half an output frame away from its timestamp.
"""

import dataclasses
import fractions

import numpy as np

from affectkeras.constants import FPS
from affectkeras.errors import InvalidArgumentError

# Stands for a frame without a timestamp: ffmpeg's fps filter treats it as infinitely early.
NO_TIMESTAMP = -(2**62)


# Frame rates a camera or an encoder commonly uses (NTSC rates are 1000/1001 of the others).
_NTSC = (24, 30, 48, 60, 120, 240)
STANDARD_RATES = tuple(
    fractions.Fraction(str(rate)) / scale
    for rate in (8, 10, 12, 12.5, 15, 24, 25, 30, 48, 50, 60, 90, 100, 120, 240)
    for scale in ((1, fractions.Fraction(1001, 1000)) if rate in _NTSC else (1,))
)
_CANDIDATE_TIME_BASES = tuple(1 / rate for rate in STANDARD_RATES) + (
    fractions.Fraction(1, 1000),
    fractions.Fraction(1, 90000),
)


def as_fraction(name, value):
    """Returns a positive frame rate or time base as an exact `Fraction`.

    Floats are read through their shortest decimal text, so `29.97` is `2997/100`; pass
    `Fraction(30000, 1001)` for NTSC rates.

    Args:
        name: str. Argument name for the error message.
        value: int, float, str or Fraction. e.g. `30`, `12.5`, `"30000/1001"`.

    Returns:
        fractions.Fraction.
    """
    try:
        if isinstance(value, bool):
            raise TypeError
        result = fractions.Fraction(str(value) if isinstance(value, float) else value)
    except (TypeError, ValueError, ZeroDivisionError):
        result = None
    if result is None or result <= 0:
        raise InvalidArgumentError(
            f"`{name}` must be a positive number or a fraction like '30000/1001'. "
            f"Received: {name}={value!r}"
        )
    return result


def grid_index(pts, time_base, fps):
    """Output tick of a timestamp: `round(pts * time_base * fps)`, halves away from zero.

    This is `av_rescale_q_rnd(pts, time_base, 1/fps, AV_ROUND_NEAR_INF)`, the rounding of
    ffmpeg's `fps` filter, in exact integer arithmetic.

    Args:
        pts: int. A timestamp in `time_base` units (or `NO_TIMESTAMP`).
        time_base: fractions.Fraction. Seconds per `pts` unit.
        fps: fractions.Fraction. Output frame rate.

    Returns:
        int.
    """
    if pts == NO_TIMESTAMP:
        return NO_TIMESTAMP
    num = pts * time_base.numerator * fps.numerator
    den = time_base.denominator * fps.denominator
    if num >= 0:
        return (2 * num + den) // (2 * den)
    return -((-2 * num + den) // (2 * den))


def _guess_time_base(times):
    """The coarsest common time base on which all `times` (seconds) fall, else 1 us."""
    for time_base in _CANDIDATE_TIME_BASES:
        ticks = times / float(time_base)
        if np.all(np.abs(ticks - np.round(ticks)) * float(time_base) < 1e-6):
            return time_base
    return fractions.Fraction(1, 1_000_000)


class RateConverter:
    """Streaming form of the `fps` filter rule: how often to show each source frame.

    Call `push` with the grid index of each source frame in decoding order; it returns how
    many output frames the *previous* source frame fills (0 when it is dropped). Call
    `finish` with the grid index of the end of the video for the last frame's count.
    `next_index` is the index of the next output frame.

    Example:
        >>> conv = RateConverter()
        >>> [conv.push(q) for q in (0, 1, 3)], conv.finish(4)
        ([0, 1, 2], 1)
    """

    def __init__(self):
        self.next_index = 0
        self._started = False

    def push(self, index):
        count = max(0, index - self.next_index) if self._started else 0
        self.next_index += count
        self._started = True
        return count

    def finish(self, end_index):
        count = max(0, end_index - self.next_index) if self._started else 0
        self.next_index += count
        return count


@dataclasses.dataclass(frozen=True, eq=False)
class FrameTimeline:
    """Timestamps of a video's source frames, and their mapping to the output frame rate.

    Build it with `read_timeline(path)` (exact, from the decoded frames), `from_times` or
    `constant_rate`. Times are seconds from the start of the file.

    Attributes:
        pts: np.ndarray of int64, shape `(num_source_frames,)`. Source timestamps in
            `time_base` units, in decoding (= presentation) order.
        time_base: fractions.Fraction. Seconds per `pts` unit.
        end_pts: int. End of the last source frame (its timestamp plus its duration).
        fps: fractions.Fraction. Output frame rate (default 30).

    Example:
        >>> timeline = FrameTimeline.constant_rate(48, 24)  # 2 s at 24 fps
        >>> timeline.num_output_frames
        60
        >>> timeline.output_to_source([0, 1, 2, 3, 4, 5]).tolist()
        [0, 1, 1, 2, 3, 4]
    """

    pts: np.ndarray
    time_base: fractions.Fraction
    end_pts: int
    fps: fractions.Fraction = fractions.Fraction(FPS)

    def __post_init__(self):
        pts = np.asarray(self.pts, dtype=np.int64).reshape(-1)
        pts.flags.writeable = False
        object.__setattr__(self, "pts", pts)
        object.__setattr__(self, "time_base", as_fraction("time_base", self.time_base))
        object.__setattr__(self, "fps", as_fraction("fps", self.fps))
        object.__setattr__(self, "end_pts", int(self.end_pts))
        grid = np.array([grid_index(int(p), self.time_base, self.fps) for p in pts], np.int64)
        end = grid_index(self.end_pts, self.time_base, self.fps)
        # bounds[j] .. bounds[j + 1] is the range of output frames that show source frame j.
        conv = RateConverter()
        counts = [conv.push(int(q)) for q in grid] + [conv.finish(end)] if len(grid) else []
        bounds = np.concatenate([[0], np.cumsum(counts[1:])]).astype(np.int64)
        object.__setattr__(self, "_grid", grid)
        object.__setattr__(self, "_bounds", bounds)

    @classmethod
    def from_times(cls, times, end_time=None, *, fps=FPS, time_base=None):
        """Builds a timeline from source frame times in seconds.

        The times are rounded to `time_base`. By default that is the first of `1 / rate`
        for a standard frame rate (24, 25, 30000/1001, ...), 1 ms and 1/90000 s on which
        all the times fall (within 1 us), else 1 us. On an exact grid, ties of the rounding
        rule (24 fps frame 2 lands on 2.5 ticks at 30 fps) fall as in ffmpeg; in
        microseconds they may fall either way. `read_timeline` keeps the file's own time
        base and is always exact.

        Args:
            times: array-like of float, shape `(num_source_frames,)`. Seconds.
            end_time: float or None. End of the last frame; default: the last time plus the
                median frame interval.
            fps: number or Fraction. Output frame rate.
            time_base: Fraction or None. Resolution the times are rounded to; None guesses.

        Returns:
            `FrameTimeline`.
        """
        times = np.asarray(times, dtype=np.float64).reshape(-1)
        if time_base is None:
            time_base = _guess_time_base(times)
        time_base = as_fraction("time_base", time_base)
        if end_time is None:
            step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0 / float(fps)
            end_time = (times[-1] + step) if len(times) else 0.0
        scale = float(1 / time_base)
        pts = np.round(times * scale).astype(np.int64)
        return cls(pts, time_base, int(round(end_time * scale)), fps)

    @classmethod
    def constant_rate(cls, num_frames, rate, *, start_time=0, fps=FPS):
        """Builds the timeline of a constant-frame-rate video.

        Args:
            num_frames: int. Number of source frames.
            rate: number or Fraction. Source frame rate, e.g. `25` or `Fraction(30000, 1001)`.
            start_time: number or Fraction. Time of the first frame in seconds.
            fps: number or Fraction. Output frame rate.

        Returns:
            `FrameTimeline`.
        """
        rate = as_fraction("rate", rate)
        time_base = 1 / rate
        offset = fractions.Fraction(str(start_time)) / time_base
        if offset.denominator != 1:  # keep the start exact: refine the time base
            time_base /= offset.denominator
            offset *= offset.denominator
        step = int(1 / rate / time_base)
        pts = int(offset) + step * np.arange(int(num_frames), dtype=np.int64)
        return cls(pts, time_base, int(offset) + step * int(num_frames), fps)

    def with_fps(self, fps):
        """Returns the same source timeline mapped to another output frame rate."""
        return FrameTimeline(self.pts, self.time_base, self.end_pts, fps)

    @property
    def num_source_frames(self):
        """int. Number of source frames."""
        return len(self.pts)

    @property
    def num_output_frames(self):
        """int. Number of output frames: `round(end_time * fps)` (0 without frames)."""
        return int(self._bounds[-1]) if len(self.pts) else 0

    @property
    def source_times(self):
        """np.ndarray of float64, `(num_source_frames,)`. Source frame times in seconds."""
        return self.pts * float(self.time_base)

    @property
    def end_time(self):
        """float. End of the last source frame in seconds."""
        return float(self.end_pts * self.time_base)

    @property
    def output_times(self):
        """np.ndarray of float64, `(num_output_frames,)`. `index / fps` in seconds."""
        return np.arange(self.num_output_frames) / float(self.fps)

    def output_to_source(self, output_indices=None):
        """Source frame shown at each output frame (the frame `iter_frames` yields there).

        Args:
            output_indices: array-like of int or None. Output frame indices in
                `[0, num_output_frames)`; None for all output frames.

        Returns:
            np.ndarray of int64, same shape. Source frame indices.
        """
        per_output = np.repeat(np.arange(len(self.pts), dtype=np.int64), np.diff(self._bounds))
        if output_indices is None:
            return per_output
        indices = np.asarray(output_indices, dtype=np.int64)
        if indices.size and (indices.min() < 0 or indices.max() >= len(per_output)):
            raise InvalidArgumentError(
                f"`output_indices` must lie in [0, {len(per_output)}). "
                f"Received: output_indices with range [{indices.min()}, {indices.max()}]"
            )
        return per_output[indices]

    def source_to_output(self, source_indices=None):
        """Output frame that stands for each source frame (to map predictions back).

        It is `round(source_time * fps)`, clipped to the output range: the first output
        frame that shows the source frame, or, for a source frame the rate conversion
        dropped, the output frame nearest in time (it shows a neighbouring source frame).

        Args:
            source_indices: array-like of int or None. Source frame indices; None for all.

        Returns:
            np.ndarray of int64, same shape. Output frame indices.
        """
        grid = self._grid if source_indices is None else self._grid[np.asarray(source_indices)]
        return np.clip(grid, 0, max(self.num_output_frames - 1, 0))

    def source_at(self, times):
        """Source frame on display at each time: the nearest frame at or before it.

        Args:
            times: float or array-like of float. Seconds from the start of the file.

        Returns:
            np.ndarray of int64 (or int for a scalar). Source frame indices, clipped to 0
            for times before the first frame.
        """
        ticks = np.floor(np.asarray(times, dtype=np.float64) / float(self.time_base) + 1e-6)
        indices = np.searchsorted(self.pts, ticks.astype(np.int64), side="right") - 1
        indices = np.maximum(indices, 0)
        return int(indices) if np.ndim(indices) == 0 else indices


__all__ = ["NO_TIMESTAMP", "STANDARD_RATES", "as_fraction", "FrameTimeline", "grid_index", "RateConverter"]
