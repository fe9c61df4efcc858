"""clapmos: predict how people rate generated audio from cached CLAP embeddings.

The repository root is the ``clapmos`` package (``pyproject.toml`` maps it): ``clapmos.embed``
(corpora → encoders → the Zarr store), ``clapmos.heads`` (scikit-learn heads, CV ensembles,
runs), ``clapmos.evaluation`` (the challenges' metrics, reports, ``score``) and
``clapmos.cli``. What a notebook needs most is importable from here, on first use (so
``import clapmos`` loads neither torch nor scikit-learn):

>>> import clapmos
>>> table = clapmos.score([1.0, 2.0, 3.0], [1.1, 1.9, 3.2], targets=["overall"])
>>> table.query("metric == 'SRCC'")["value"].tolist()
[1.0]
>>> head = clapmos.make_head("ridge", target="overall")      # a scikit-learn pipeline
>>> run = clapmos.load_run("runs/musiceval")                 # doctest: +SKIP
>>> predictor = clapmos.Predictor.from_run("runs/musiceval")  # doctest: +SKIP
>>> scores = predictor.score(["outputs/v1"])                  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

_EXPORTS = {
    "FeatureStore": "clapmos.embed.store",
    "make_head": "clapmos.heads.registry",
    "CVEnsemble": "clapmos.heads.runs.ensemble",
    "RunConfig": "clapmos.heads.runs.run",
    "fit_run": "clapmos.heads.runs.run",
    "load_run": "clapmos.heads.runs.run",
    "Predictor": "clapmos.evaluation.predictor",
    "score": "clapmos.evaluation.metrics",
    "format_line": "clapmos.evaluation.metrics",
    "markdown_table": "clapmos.evaluation.metrics",
    "METRICS": "clapmos.evaluation.metrics",
    "ClapmosError": "clapmos.embed.errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'clapmos' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
