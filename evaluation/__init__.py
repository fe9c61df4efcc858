"""The evaluate stage: the challenges' metrics, scikit-learn scorers and submission files.

>>> from evaluation import score, format_line
>>> print(format_line(score([1.0, 2.0, 3.0], [1.0, 2.0, 3.5], targets=["overall"])))
[overall] [UTT][ MSE = 0.083 | LCC = 0.993 | SRCC = 1.000 | KTAU = 1.000 ]

Plotting (:mod:`evaluation.plots`) and the ``evaluate`` workflow (:mod:`evaluation.report`)
are imported on demand, so importing this package stays light.
"""

from evaluation.metrics import METRICS, EvaluationWarning, format_line, markdown_table, score, vector_metrics
from evaluation.scorers import SCORERS, challenge_metric, make_clapmos_scorer
from evaluation.submissions import FORMATS, detect_format, read_submission, validate_submission, write_submission

__all__ = [
    "FORMATS",
    "METRICS",
    "SCORERS",
    "EvaluationWarning",
    "challenge_metric",
    "detect_format",
    "format_line",
    "make_clapmos_scorer",
    "markdown_table",
    "read_submission",
    "score",
    "validate_submission",
    "vector_metrics",
    "write_submission",
]
