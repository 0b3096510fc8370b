"""Matplotlib figures for reports and prediction plots, written atomically as PNG."""

from affectkeras.files import atomic_path


def figure(width, height):
    """A bare `Figure` on the Agg canvas: no pyplot, no global backend switch, no display."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    result = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(result)
    return result


def plain(text):
    """`text` (a file or video name) shown as written: a `$` pair is not Matplotlib math text."""
    return str(text).replace("$", r"\$")


def save_png(fig, path):
    """Writes `fig` to `path` as PNG under a temporary name, renamed when complete."""
    with atomic_path(path) as staging:
        fig.savefig(staging, format="png")
    return path
