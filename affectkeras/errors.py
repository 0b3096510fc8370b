"""The library's exception hierarchy.

Every error derives from `AffectKerasError`; the concrete classes also derive from the
built-in exception a caller would expect (`ValueError`, `FileNotFoundError`), so
`except ValueError` keeps working for code that does not know this library.
"""


class AffectKerasError(Exception):
    """Base class of every error raised by affectkeras."""


class InvalidArgumentError(AffectKerasError, ValueError):
    """An argument has a wrong value, type or shape; the message names it."""


class DataFormatError(AffectKerasError, ValueError):
    """A data or annotation file is malformed; the message names the file and line."""

    def __init__(self, path, line, message):
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")

    def __reduce__(self):  # picklable, so that it crosses a process pool intact
        return type(self), (self.path, self.line, self.message)


class MediaError(DataFormatError):
    """A video or audio file cannot be decoded (corrupt, truncated, empty, no usable stream).

    The message is one line naming the file and what ffmpeg said about it.
    """

    def __init__(self, path, message):
        super().__init__(path, None, message)

    def __reduce__(self):
        return type(self), (self.path, self.message)


def check_choice(name, value, choices):
    """Raises `InvalidArgumentError` unless `value` is one of `choices`."""
    if value not in choices:
        raise InvalidArgumentError(
            f"`{name}` must be one of {sorted(choices, key=str)}. Received: {name}={value!r}"
        )
    return value


def check_fraction(name, value):
    """Raises `InvalidArgumentError` unless `value` is a number in [0, 1) (a rate, a relative change)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < 1:
        raise InvalidArgumentError(f"`{name}` must be a number in [0, 1). Received: {name}={value!r}")
    return value


def check_positive(name, value, *, integer=False, allow_zero=False):
    """Raises `InvalidArgumentError` unless `value` is a positive (or >= 0) number."""
    kind = int if integer else (int, float)
    ok = isinstance(value, kind) and not isinstance(value, bool)
    if ok:
        ok = value >= 0 if allow_zero else value > 0
    if not ok:
        what = "integer" if integer else "number"
        bound = ">= 0" if allow_zero else "> 0"
        raise InvalidArgumentError(f"`{name}` must be a {what} {bound}. Received: {name}={value!r}")
    return value


class WeightsError(AffectKerasError, ValueError):
    """A weights file does not fit a model, or a download failed its hash check.

    The message names the file, the first layer that does not fit, and the expected and
    found weight shapes.
    """


def one_line(error):
    """`error` as one line of text for a failure record or a message: the type name is kept
    for unexpected exceptions, dropped for the library's own and for OS errors (whose
    messages already say what went wrong and where)."""
    text = " ".join(str(error).split())
    return text if isinstance(error, (AffectKerasError, OSError)) else f"{type(error).__name__}: {text}"


__all__ = [
    "AffectKerasError",
    "check_choice",
    "check_fraction",
    "check_positive",
    "DataFormatError",
    "InvalidArgumentError",
    "MediaError",
    "one_line",
    "WeightsError",
]
