"""The evaluate stage: the challenges' metrics, scikit-learn scorers and submission files.

>>> from clapmos.evaluation import score, format_line
>>> print(format_line(score([1.0, 2.0, 3.0], [1.0, 2.0, 3.5], targets=["overall"])))
[overall] [UTT][ MSE = 0.083 | LCC = 0.993 | SRCC = 1.000 | KTAU = 1.000 ]

The names below are imported from their modules when first used, so ``import evaluation``
(and a command that fails on a bad option) stays fast. Plotting (:mod:`clapmos.evaluation.plots`)
and the ``evaluate`` workflow (:mod:`clapmos.evaluation.report`) are imported on demand too.
"""

from __future__ import annotations

import importlib

_HOMES = {
    "clapmos.evaluation.metrics": ["METRICS", "EvaluationWarning", "format_line", "markdown_table", "score", "vector_metrics"],
    "clapmos.evaluation.scorers": ["SCORERS", "challenge_metric", "make_clapmos_scorer"],
    "clapmos.evaluation.submissions": ["FORMATS", "detect_format", "read_submission", "validate_submission", "write_submission"],
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'evaluation' has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULE_OF[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
