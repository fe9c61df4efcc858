"""Two listening tests of the same underlying quality on different scales (known truth).

Corpus A rates quality ``q`` as ``3 + q``, corpus B as ``6 + 2.5 q`` (an offset and a stretch),
each with rating noise, 100 training clips each. One model of both with a learned per-corpus
affine map (AlignNet-style) is compared, on each corpus's held-out clips and on its own scale,
with training on that corpus alone and with naive pooling of the raw scores.
"""

from __future__ import annotations

import numpy as np
import pytest

from clapmos.heads.aligned import CorpusAlignedRegressor
from clapmos.heads.mlp import TorchMLPRegressor

pytestmark = pytest.mark.usefixtures("one_torch_thread")
N_PER, N_TRAIN, DIM = 300, 100, 8
SETTINGS = dict(hidden_sizes=(32,), dropout=0.0, lr=1e-2, random_state=0)


def two_scales(seed: int):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=DIM) / np.sqrt(DIM)

    def corpus(offset: float, stretch: float):
        X = rng.normal(size=(N_PER, DIM))
        quality = np.tanh(X @ w) + 0.3 * np.sin(2 * X[:, 1])
        truth = offset + stretch * quality
        return X, truth + rng.normal(0, 0.15 * stretch, N_PER), truth

    return {"A": corpus(3.0, 1.0), "B": corpus(6.0, 2.5)}


def rmse(predicted, truth) -> float:
    return float(np.sqrt(np.mean((predicted - truth) ** 2)))


@pytest.mark.parametrize("seed", [0, 1])
def test_the_aligned_joint_fit_beats_naive_pooling_and_matches_each_corpus_alone(seed):
    """Joint fit with a per-corpus affine map: far better than pooling raw scores; about as good as a model per corpus.

    Measured over model seeds 0-2 and data seeds 0-1 (mean held-out RMSE, aligned vs alone): A 0.267 vs 0.265,
    B 0.659 vs 0.662 — at these sizes sharing the network across corpora neither helps nor hurts beyond noise
    (the issue's "beats either alone" is not established here), while pooling raw scores costs 2-3x.
    """
    corpora = two_scales(seed)
    X = np.vstack([X[:N_TRAIN] for X, _, _ in corpora.values()])
    y = np.concatenate([y[:N_TRAIN] for _, y, _ in corpora.values()])
    labels = np.repeat(list(corpora), N_TRAIN)
    held_out = slice(N_TRAIN, None)
    errors = {name: {"joint": [], "alone": [], "pooled": []} for name in corpora}
    for model_seed in (0, 1, 2):
        settings = dict(SETTINGS, random_state=model_seed)
        aligned = CorpusAlignedRegressor(**settings).fit(X, y, corpus=labels)
        pooled = TorchMLPRegressor(**settings).fit(X, y)
        for name, (Xc, yc, truth) in corpora.items():
            alone = TorchMLPRegressor(**settings).fit(Xc[:N_TRAIN], yc[:N_TRAIN])
            errors[name]["joint"].append(rmse(aligned.predict(Xc[held_out], corpus=[name] * (N_PER - N_TRAIN)), truth[held_out]))
            errors[name]["alone"].append(rmse(alone.predict(Xc[held_out]), truth[held_out]))
            errors[name]["pooled"].append(rmse(pooled.predict(Xc[held_out]), truth[held_out]))
        assert aligned.corpora_.tolist() == ["A", "B"]
        assert aligned.stretch_[1, 0] == pytest.approx(2.5, rel=0.3)
    for name, found in errors.items():
        joint, alone, pooled = (float(np.mean(found[k])) for k in ("joint", "alone", "pooled"))
        assert joint < 0.5 * pooled, (name, joint, pooled)
        assert joint < 1.25 * alone, (name, joint, alone)  # within noise of a model per corpus


def test_predictions_on_each_scale_are_the_corpus_map_of_the_reference_scale():
    corpora = two_scales(2)
    X = np.vstack([corpora["A"][0][:60], corpora["B"][0][:60]])
    y = np.concatenate([corpora["A"][1][:60], corpora["B"][1][:60]])
    model = CorpusAlignedRegressor(hidden_sizes=(8,), max_epochs=5, random_state=0, reference_corpus="B")
    model.fit(X, y, corpus=np.repeat(["A", "B"], 60))
    assert model.corpora_.tolist() == ["B", "A"] and model.stretch_[0, 0] == 1.0 and model.shift_[0, 0] == 0.0
    on_b = model.predict(X[:10])
    np.testing.assert_allclose(model.predict(X[:10], corpus=["A"] * 10), model.shift_[1, 0] + model.stretch_[1, 0] * on_b, rtol=1e-6)
    with pytest.raises(ValueError, match="was not seen in fit"):
        model.predict(X[:2], corpus=["C", "C"])
