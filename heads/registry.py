"""The heads by name: ``make_head("spo_mlp", target="overall")`` gives a ready scikit-learn pipeline.

Every head is a :class:`~sklearn.pipeline.Pipeline` on the embedding matrix a store
gives (``FeatureStore.stacked``: per embedder its audio and, when it has one, its text
vector): ``features`` (:class:`~clapmos.heads.inputs.features.PairedEmbeddingFeatures`, the blocks the
head reads), ``scale`` (a :class:`~sklearn.preprocessing.StandardScaler`, where the
model needs it) and ``model``.

**Adding a head is one module and one line.** The module builds its model and calls
:func:`register_head` with a :class:`HeadSpec`; the line is its entry in
:data:`HEAD_MODULES`. Modules are imported only when their head is asked for, so
listing the names (``HEAD_NAMES``) imports neither torch nor LightGBM.

>>> HEAD_NAMES[:3]
('ridge', 'lgbm', 'mlp')
>>> head_spec("ridge").summary
'RidgeCV, one alpha per target (leave-one-out over a log grid)'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from clapmos.embed.errors import ClapmosError

#: One line per head: its name and the module that registers it (imported on first use).
HEAD_MODULES: dict[str, str] = {
    "ridge": "clapmos.heads.ridge",
    "lgbm": "clapmos.heads.lgbm",
    "mlp": "clapmos.heads.mlp",
    "spo_mlp": "clapmos.heads.spo",
    "cosine": "clapmos.heads.cosine",
    "svr": "clapmos.heads.svr",
    "dist": "clapmos.heads.dist",
    "coral": "clapmos.heads.coral",
    "attn_mlp": "clapmos.heads.attn_mlp",
    "xattn": "clapmos.heads.xattn",
    "bt": "clapmos.heads.bt",
    "ldnet": "clapmos.heads.ldnet",
    "moe": "clapmos.heads.moe",
    "aligned": "clapmos.heads.aligned",
}
HEAD_NAMES = tuple(HEAD_MODULES)


@dataclass(frozen=True)
class HeadSpec:
    """What the registry knows about a head.

    Attributes
    ----------
    name : str
        The name used by ``make_head`` and ``fit --head``.
    summary : str
        One line for listings and ``--help``.
    build : callable
        ``build(random_state=..., audio_dim=..., layout=...) -> estimator``: the model step
        (take what you need, ignore the rest with ``**_``).
    scaled : bool
        Put a ``StandardScaler`` between the feature blocks and the model.
    reads_blocks : bool
        ``False`` for a model that reads the embedding matrix itself (no ``features`` step).
    listener_ratings : bool
        ``fit`` takes the per-listener ratings (``listener_scores``, ``listener_ids``).
    param_prefix : str
        Where a plain ``--param name=value`` goes (``model__``; LightGBM's inner model:
        ``model__estimator__``).
    types : tuple of type
        Classes a saved model of this head holds beyond scikit-learn's own: the files are
        loaded only when every type in them is trusted (:mod:`clapmos.heads.runs.persistence`).
    quick : dict
        Settings that make a fit take well under a second (tests, docs).
    preprocessing : callable or None
        ``preprocessing() -> [(name, transformer), ...]``: the steps between the feature
        blocks and the model, instead of the one ``StandardScaler`` of ``scaled``
        (``svr``: ``Normalizer`` then ``StandardScaler``).
    preflight : callable or None
        ``preflight(n_rows=..., n_features=..., n_fits=..., params=...)``, called by
        ``fit_run`` before any fitting with the rows of one fold model, the width of
        the store's matrix, the number of models the run fits and the head's settings;
        raises :class:`~clapmos.embed.errors.ClapmosError` for a run it should refuse (``svr``
        on too many rows).
    inputs : {"vectors", "frames"}
        What the model reads: the clip-level matrix (``FeatureStore.stacked``), or a
        :class:`~clapmos.embed.store.frames.Frames` container of frame tokens (``FeatureStore.frames``;
        ``fit`` then needs ``embed --frames``).
    needs_text : bool
        The model reads the clips' text vectors (an audio-only embedder cannot serve it).
    comparisons : bool
        ``fit`` takes pairwise votes (``pair_items``, ``pair_opponents``, ``pair_outcomes``,
        :mod:`clapmos.heads.inputs.comparisons`) and unlabelled (NaN) rows.
    named_columns : bool
        The steps pass pandas frames whose column names say which embedder and block a column
        comes from (``clap.audio_0``), so the model can group them (``moe``: one expert per embedder).
    """

    name: str
    summary: str
    build: Callable[..., Any]
    scaled: bool = True
    reads_blocks: bool = True
    listener_ratings: bool = False
    param_prefix: str = "model__"
    types: tuple[type, ...] = ()
    quick: Mapping[str, Any] = field(default_factory=dict)
    preprocessing: Callable[[], list[tuple[str, Any]]] | None = None
    preflight: Callable[..., None] | None = None
    inputs: str = "vectors"
    needs_text: bool = False
    comparisons: bool = False
    named_columns: bool = False


_SPECS: dict[str, HeadSpec] = {}


def register_head(spec: HeadSpec) -> HeadSpec:
    """Add ``spec`` to the registry (called by the head's module when it is imported)."""
    if spec.name not in HEAD_MODULES:
        raise ValueError(f"head {spec.name!r} is not listed in clapmos.heads.registry.HEAD_MODULES; add one line there")
    _SPECS[spec.name] = spec
    return spec


def member_head(member: str) -> str:
    """The head of an ensemble member name: ``svr:a`` (a second ``svr`` with its own settings) is ``svr``.

    >>> member_head("svr:a"), member_head("ridge")
    ('svr', 'ridge')
    """
    return member.split(":", 1)[0]


def head_spec(name: str) -> HeadSpec:
    """The :class:`HeadSpec` of ``name`` (or of a member name ``head:tag``), importing its module on first use."""
    name = member_head(name)
    if name not in HEAD_MODULES:
        raise ClapmosError(f"unknown head {name!r}; choose one of {', '.join(HEAD_NAMES)}")
    if name not in _SPECS:
        importlib.import_module(HEAD_MODULES[name])
    if name not in _SPECS:
        raise RuntimeError(f"module {HEAD_MODULES[name]} did not register the head {name!r}")
    return _SPECS[name]


def head_specs() -> dict[str, HeadSpec]:
    """Every registered head (imports all head modules)."""
    return {name: head_spec(name) for name in HEAD_NAMES}


def default_blocks(target: str | Sequence[str] | None = None) -> tuple[str, ...]:
    """Feature blocks the baseline used for ``target``: audio for ``overall``, else audio, text and cosine.

    Several targets (one model for all) get the union of their blocks.

    >>> default_blocks("overall"), default_blocks("alignment")
    (('audio',), ('audio', 'text', 'cosine'))
    >>> default_blocks(["overall", "textual"])
    ('audio', 'text', 'cosine')
    """
    from clapmos.heads.inputs.blocks import BLOCK_ORDER

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
    layout: Sequence[tuple[str, int, int]] | None = None,
    **params: Any,
):
    """A head pipeline: embeddings -> feature blocks -> [scaler] -> model.

    Parameters
    ----------
    name : str
        One of :data:`HEAD_NAMES`.
    blocks : sequence of str or None
        Feature blocks (see :mod:`clapmos.heads.inputs.features`); ``None`` uses
        :func:`default_blocks` of ``target``. Not used by heads that read the matrix
        themselves (``cosine``).
    target : str, sequence of str or None
        Target name(s) the head will predict, used only for the default blocks.
    random_state : int or None, default=0
        Seed of the model (ridge has none).
    audio_dim : int or None
        Split point of a single audio | text matrix (``None``: the middle).
    layout : sequence of (embedder, audio_dim, text_dim) or None
        How the columns of X are made when they come from several embedders (what
        ``FeatureStore.stacked`` returns); ``None`` is one audio | text pair.
    **params
        Model settings. A plain name sets a parameter of the model itself (for
        ``lgbm``, of the inner ``LGBMRegressor``): ``max_epochs=50``,
        ``num_leaves=31``. A name with ``__`` is a pipeline parameter, passed as is:
        ``scale__with_std=False``, ``model__estimator__n_estimators=100``,
        ``features__unit_norm=True``; so is a step's name (``scale="passthrough"``
        drops the scaler).

    Examples
    --------
    >>> head = make_head("mlp", target="overall", hidden_sizes=(64,))
    >>> [step for step, _ in head.steps], head.named_steps["model"].hidden_sizes
    (['features', 'scale', 'model'], (64,))
    """
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from clapmos.heads.inputs.features import PairedEmbeddingFeatures

    spec = head_spec(name)
    if not spec.reads_blocks and blocks is not None:
        what = "frame tokens" if spec.inputs == "frames" else "the audio and text embeddings"
        raise ClapmosError(f"the {name} head reads {what} itself: do not pass feature blocks")
    steps = []
    if spec.reads_blocks:
        blocks = tuple(blocks or default_blocks(target))
        layout = None if layout is None else tuple(tuple(segment) for segment in layout)
        steps.append(("features", PairedEmbeddingFeatures(blocks=blocks, audio_dim=audio_dim, layout=layout)))
    if spec.preprocessing is not None:
        steps += spec.preprocessing()
    elif spec.scaled:
        steps.append(("scale", StandardScaler()))
    steps.append(("model", spec.build(random_state=random_state, audio_dim=audio_dim, layout=layout)))
    head = Pipeline(steps)
    if spec.named_columns:
        head.set_output(transform="pandas")
    step_names = {step for step, _ in steps}
    settings = {key if "__" in key or key in step_names else spec.param_prefix + key: value for key, value in params.items()}
    try:
        return head.set_params(**settings)
    except ValueError as error:
        prefix = spec.param_prefix
        valid = sorted(k[len(prefix) :] for k in head.get_params() if k.startswith(prefix) and "__" not in k[len(prefix) :])
        raise ClapmosError(f"head {name!r}: {error}\nsettable by plain name: {', '.join(valid)}") from None
