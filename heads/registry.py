"""The heads by name: ``make_head("spo_mlp", target="overall")`` gives a ready scikit-learn pipeline.

Every head reads the paired (audio | text) embedding matrix and is a
:class:`~sklearn.pipeline.Pipeline` with the steps ``features``
(:class:`~heads.features.PairedEmbeddingFeatures`), ``scale`` (a
:class:`~sklearn.preprocessing.StandardScaler`, where the model needs it) and
``model``:

- ``ridge``: scaler, ``RidgeCV`` (efficient leave-one-out over a log grid of alphas,
  one alpha per target);
- ``lgbm``: ``PerTargetRegressor(LGBMRegressor)``, one booster per target, single
  thread, deterministic;
- ``mlp``: scaler, :class:`~heads.mlp.TorchMLPRegressor`;
- ``spo_mlp``: scaler, :class:`~heads.spo.SpoMLPRegressor`;
- ``cosine``: :class:`~heads.spo.SpoCosineRegressor` alone.

The ``cosine`` head reads the paired matrix itself, so it has only the ``model`` step.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from lightgbm import LGBMRegressor
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from embed.errors import ClapmosError
from heads.features import BLOCK_ORDER, PairedEmbeddingFeatures
from heads.mlp import TorchMLPRegressor
from heads.per_target import PerTargetRegressor
from heads.spo import SpoCosineRegressor, SpoMLPRegressor

HEAD_NAMES = ("ridge", "lgbm", "mlp", "spo_mlp", "cosine")

RIDGE_ALPHAS = tuple(np.logspace(-1, 5, 13))
LGBM_DEFAULTS = {
    "n_estimators": 300,
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_child_samples": 20,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.3,
    "reg_lambda": 1.0,
    "n_jobs": 1,
    "max_bin": 63,
    "deterministic": True,
    "force_col_wise": True,
    "verbose": -1,
}


def default_blocks(target: str | Sequence[str] | None = None) -> tuple[str, ...]:
    """Feature blocks the baseline used for ``target``: audio for ``overall``, else audio, text and cosine.

    Several targets (one model for all) get the union of their blocks.

    >>> default_blocks("overall"), default_blocks("alignment")
    (('audio',), ('audio', 'text', 'cosine'))
    >>> default_blocks(["overall", "textual"])
    ('audio', 'text', 'cosine')
    """
    targets = [target] if target is None or isinstance(target, str) else list(target)
    wanted = set()
    for name in targets:
        wanted |= {"audio"} if name == "overall" else {"audio", "text", "cosine"}
    return tuple(block for block in BLOCK_ORDER if block in wanted)


def make_head(
    name: str,
    blocks: Sequence[str] | None = None,
    target: str | Sequence[str] | None = None,
    random_state: int | None = 0,
    audio_dim: int | None = None,
    **params,
) -> Pipeline:
    """A head pipeline: paired embeddings -> feature blocks -> [scaler] -> model.

    Parameters
    ----------
    name : str
        One of :data:`HEAD_NAMES`.
    blocks : sequence of str or None
        Feature blocks (see :mod:`heads.features`); ``None`` uses
        :func:`default_blocks` of ``target``. Not used by ``cosine``.
    target : str, sequence of str or None
        Target name(s) the head will predict, used only for the default blocks.
    random_state : int or None, default=0
        Seed of the model (ridge has none).
    audio_dim : int or None
        Split point of the paired matrix (``None``: the middle).
    **params
        Model settings. A plain name sets a parameter of the model itself (for
        ``lgbm``, of the inner ``LGBMRegressor``): ``max_epochs=50``,
        ``num_leaves=31``. A name with ``__`` is a pipeline parameter, passed as is:
        ``scale__with_std=False``, ``model__estimator__n_estimators=100``.

    Examples
    --------
    >>> head = make_head("mlp", target="overall", hidden_sizes=(64,))
    >>> [step for step, _ in head.steps], head.named_steps["model"].hidden_sizes
    (['features', 'scale', 'model'], (64,))
    """
    if name not in HEAD_NAMES:
        raise ClapmosError(f"unknown head {name!r}; choose one of {', '.join(HEAD_NAMES)}")
    if name == "cosine" and blocks is not None:
        raise ClapmosError("the cosine head reads the audio and text halves itself: do not pass blocks")
    features = PairedEmbeddingFeatures(blocks=tuple(blocks or default_blocks(target)), audio_dim=audio_dim)
    models = {
        "ridge": lambda: RidgeCV(alphas=RIDGE_ALPHAS, alpha_per_target=True, gcv_mode="svd"),
        "lgbm": lambda: PerTargetRegressor(LGBMRegressor(**LGBM_DEFAULTS, random_state=random_state)),
        "mlp": lambda: TorchMLPRegressor(random_state=random_state),
        "spo_mlp": lambda: SpoMLPRegressor(random_state=random_state),
        "cosine": lambda: SpoCosineRegressor(audio_dim=audio_dim, random_state=random_state),
    }
    steps = [] if name == "cosine" else [("features", features)]
    steps += [("scale", StandardScaler())] if name in ("ridge", "mlp", "spo_mlp") else []
    head = Pipeline(steps + [("model", models[name]())])
    prefix = "model__estimator__" if name == "lgbm" else "model__"
    settings = {key if "__" in key else prefix + key: value for key, value in params.items()}
    try:
        return head.set_params(**settings)
    except ValueError as error:
        valid = sorted(k for k in head.get_params() if k.startswith(prefix) and "__" not in k[len(prefix) :])
        raise ClapmosError(
            f"head {name!r}: {error}\nsettable by plain name: {', '.join(k[len(prefix):] for k in valid)}"
        ) from None
