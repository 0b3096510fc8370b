"""Metrics: streaming Keras metrics for training, and the ABAW scores over whole predictions.

- `ConcordanceCorrelation`, `ExpressionF1`, `ExpressionAccuracy`, `AUF1`, `AUAccuracy`:
  Keras metrics whose epoch value is exact over all frames (running sums, not batch means).
- `ccc`, `va_score`, `expr_score`, `au_score`, `mtl_score`: numpy scorers of the ABAW
  challenges, applied to the predictions of a whole set at once.
"""

from affectkeras.metrics.abaw import au_score, ccc, expr_score, mtl_score, va_score
from affectkeras.metrics.streaming import (
    AUF1,
    AUAccuracy,
    ConcordanceCorrelation,
    ExpressionAccuracy,
    ExpressionF1,
)

__all__ = [
    "AUAccuracy",
    "AUF1",
    "ConcordanceCorrelation",
    "ExpressionAccuracy",
    "ExpressionF1",
    "au_score",
    "ccc",
    "expr_score",
    "mtl_score",
    "va_score",
]
