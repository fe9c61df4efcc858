"""Pseudo-label pretraining (XACLE 2026 third place, METHODS.md §8): pretrain on CLAP similarity, fine-tune on ratings.

Unrated (prompt, audio) pairs are just more rows of a store. Their pseudo-label is the cosine of
a chosen CLAP embedder's audio and text vectors (:func:`similarity_labels`); a torch head is first
trained to predict it on the unrated rows, and its network is then the starting point of the
ordinary fit on the rated rows (:func:`pretrain_then_fit`). Targets are standardised separately
in each stage, so what carries over is which clips rank high, not the cosine's scale.

>>> import numpy as np
>>> from clapmos.heads import make_head
>>> rng = np.random.default_rng(0)
>>> unrated, rated = rng.normal(size=(300, 8)), rng.normal(size=(40, 8))
>>> head = make_head("mlp", blocks=["audio", "text"], hidden_sizes=(8,), max_epochs=5, random_state=0)
>>> head = pretrain_then_fit(head, unrated, similarity_labels(unrated), rated, rated[:, 0])
>>> head.predict(rated[:2]).shape
(2,)
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone

from clapmos.embed.errors import ClapmosError
from clapmos.heads.inputs.features import paired_cosine


def similarity_labels(X: np.ndarray, audio_dim: int | None = None) -> np.ndarray:
    """The pseudo-label of every row of a paired (audio | text) matrix: the cosine of its halves.

    >>> similarity_labels(np.array([[1.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 1.0]])).tolist()
    [1.0, 0.0]
    """
    return paired_cosine(np.asarray(X, dtype=np.float64), audio_dim)


def store_similarity_labels(store, embedder: str, split=None) -> np.ndarray:
    """:func:`similarity_labels` of ``embedder``'s audio and text vectors in ``store`` (an embedder with text)."""
    layout = dict((name, (a, t)) for name, a, t in store.layout([embedder]))
    if not layout[embedder][1]:
        raise ClapmosError(f"pseudo-labels compare audio with text, but {embedder!r} in {store.path} is audio-only; choose a CLAP embedder")
    return similarity_labels(store.paired(embedder, split), layout[embedder][0])


def _final_step(model):
    return model[-1] if hasattr(model, "steps") else model


def pretrain_then_fit(model, X_pretrain, y_pretrain, X, y, select_cv: int | None = 5, random_state: int = 0, **fit_params):
    """Fit a clone of ``model`` on the pseudo-labelled rows, then fit ``model`` on ``(X, y)`` starting from its network.

    ``model`` is a torch head (``mlp``, ``spo_mlp``, ``dist``, ... or a pipeline ending in one);
    ``fit_params`` go to the fits on the rated rows (sample-aligned arrays are sliced per fold).

    A network pretrained on a similarity that carries nothing of the ratings is a worse start
    than a fresh one. With ``select_cv`` (default 5), both starts are compared by the Spearman
    correlation of their out-of-fold predictions on the rated rows (``select_cv`` folds) and the
    better one is kept; the model's final step records ``pretrained_start_`` (bool) and
    ``pretrain_selection_`` (the two correlations). ``None`` always keeps the pretrained start.
    """
    final = _final_step(model)
    if not hasattr(final, "_starting_network"):
        raise ClapmosError(f"{type(final).__name__} cannot start from pretrained weights; use a torch MLP head (mlp, spo_mlp, dist, coral)")
    pretrained = clone(model)
    pretrained_final = _final_step(pretrained)
    if "target_scaling" in pretrained_final.get_params():
        pretrained_final.set_params(target_scaling="standardize")
    pretrained.fit(X_pretrain, np.asarray(y_pretrain, dtype=np.float64))
    state = {k: v.detach().clone() for k, v in _final_step(pretrained).module_.state_dict().items()}
    selection = None
    if select_cv:
        starts = {"fresh": None, "pretrained": state}
        selection = {name: _out_of_fold_srcc(model, start, X, y, select_cv, random_state, fit_params) for name, start in starts.items()}
    use_pretrained = selection is None or selection["pretrained"] >= selection["fresh"]
    _fit_from(model, state if use_pretrained else None, X, y, fit_params)
    final.pretrained_start_ = bool(use_pretrained)
    final.pretrain_selection_ = selection
    return model


def _fit_from(model, state, X, y, fit_params):
    final = _final_step(model)
    final._initial_state = state
    try:
        model.fit(X, y, **fit_params)
    finally:
        vars(final).pop("_initial_state", None)
    return model


def pretrain_members(members, X_pretrain, y_pretrain) -> list[str]:
    """Give every torch member ``(name, pipeline)`` the network a clone of it learns on the pseudo-labels, as its start.

    Returns the names of the members pretrained (the others cannot start from pretrained weights).
    The start travels with clones of the member (fold models), and is dropped by each fit.
    """
    done = []
    for name, member in members:
        final = _final_step(member)
        if not hasattr(final, "_starting_network"):
            continue
        pretrained = clone(member)
        if "target_scaling" in _final_step(pretrained).get_params():
            _final_step(pretrained).set_params(target_scaling="standardize")
        pretrained.fit(X_pretrain, np.asarray(y_pretrain, dtype=np.float64))
        final._initial_state = {k: v.detach().clone() for k, v in _final_step(pretrained).module_.state_dict().items()}
        done.append(name)
    return done


def strip_starts(members) -> None:
    """Drop the pretrained starts from member templates (what a saved run must not carry)."""
    for _, member in members:
        vars(_final_step(member)).pop("_initial_state", None)


def _out_of_fold_srcc(model, start, X, y, n_splits: int, random_state: int, fit_params) -> float:
    import warnings

    from scipy.stats import spearmanr
    from sklearn.model_selection import KFold

    y = np.asarray(y, dtype=np.float64)
    predicted = np.empty_like(y)
    for train, test in KFold(n_splits, shuffle=True, random_state=random_state).split(X):
        params = {k: (v[train] if hasattr(v, "__len__") and len(v) == len(y) else v) for k, v in fit_params.items()}
        fold = _fit_from(clone(model), start, X[train], y[train], params)
        predicted[test] = fold.predict(X[test])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = spearmanr(predicted.reshape(len(y), -1).mean(axis=1), y.reshape(len(y), -1).mean(axis=1)).statistic
    return float(value) if np.isfinite(value) else -np.inf
