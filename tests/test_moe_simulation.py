"""``moe``: each of two embedders is informative only for one kind of clip (known truth).

600 clips of two kinds (think: songs and ambiences). Embedder ``a`` carries the quality of
kind-0 clips along one direction and noise for kind 1; embedder ``b`` the reverse. The kind
shows in both embedders (a shift of one column, as a genre would), but which embedder to
trust for which kind is not given to any model. A concatenation MLP must learn the
interaction; stacking weighs the embedders once for every clip; the mixture's gate can
route each clip to its expert.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from clapmos.heads import make_head
from clapmos.heads.runs.ensemble import CVEnsemble

pytestmark = pytest.mark.usefixtures("one_torch_thread")
N, N_TRAIN, DIM = 800, 500, 16
LAYOUT = [("a", DIM, 0), ("b", DIM, 0)]


def two_kinds(seed: int = 0):
    rng = np.random.default_rng(seed)
    kind, quality = rng.integers(0, 2, N), rng.normal(size=N)

    def embedder(informative_kind: int) -> np.ndarray:
        direction = rng.normal(size=DIM)
        features = rng.normal(size=(N, DIM))
        features += np.outer(np.where(kind == informative_kind, quality, rng.normal(size=N)), direction / np.linalg.norm(direction)) * 1.5
        features[:, 0] += 3.0 * (kind - 0.5)
        return features

    X = np.hstack([embedder(0), embedder(1)])
    return X, quality + rng.normal(0, 0.2, N), quality, kind


def test_moe_beats_concatenation_and_stacking_and_its_gate_routes_each_kind_to_its_expert():
    X, y, quality, kind = two_kinds()
    train, test = slice(0, N_TRAIN), slice(N_TRAIN, None)
    quick = dict(hidden_sizes=(16,), lr=1e-2, random_state=0)

    def srcc(model) -> float:
        return spearmanr(model.predict(X[test]), quality[test]).statistic

    moe = make_head("moe", blocks=["audio"], layout=LAYOUT, **quick).fit(X[train], y[train])
    concatenated = make_head("mlp", blocks=["audio"], layout=LAYOUT, **quick).fit(X[train], y[train])
    stacked = CVEnsemble(
        [(e, make_head("mlp", blocks=["audio"], layout=LAYOUT, features__embedders=[e], **quick)) for e in ("a", "b")], n_splits=3
    ).fit(X[train], y[train])
    assert srcc(moe) > srcc(concatenated) + 0.04  # measured 0.68 vs 0.60
    assert srcc(moe) > srcc(stacked) + 0.1  # measured 0.68 vs 0.49

    model = moe.named_steps["model"]
    gates = model.predict_gates(moe[:-1].transform(X[test]))
    assert model.experts_ == ["a", "b"]
    np.testing.assert_allclose(gates.sum(axis=1), 1.0, rtol=1e-12)
    routed = np.argmax(gates, axis=1) == kind[test]  # kind 0 -> expert a (column 0), kind 1 -> expert b
    assert routed.mean() > 0.85  # measured 0.93


def test_the_prediction_is_the_gate_weighted_sum_of_the_experts():
    X, y, _, _ = two_kinds(1)
    moe = make_head("moe", blocks=["audio"], layout=LAYOUT, hidden_sizes=(8,), max_epochs=5, random_state=0).fit(X[:200], y[:200])
    inputs = moe[:-1].transform(X[200:220])
    model = moe.named_steps["model"]
    expected = (model.predict_gates(inputs) * model.predict_experts(inputs)).sum(axis=1)
    np.testing.assert_allclose(moe.predict(X[200:220]), expected, rtol=1e-10)
    assert [len(c) for c in model.expert_columns_] == [DIM, DIM]


def test_a_run_with_moe_writes_the_gate_weights_beside_its_predictions(tmp_path):
    from clapmos.embed.corpora.table import Corpus
    from clapmos.embed.store import FeatureStore
    from clapmos.heads.runs.run import RunConfig, fit_run, load_run, save_run

    X, y, _, _ = two_kinds(2)
    n = 120
    items = pd.DataFrame({"id": [f"c{i:03d}" for i in range(n)], "path": [f"/none/c{i}.wav" for i in range(n)],
                          "text": ["p"] * n, "system": [f"S{i % 4}" for i in range(n)],
                          "split": ["train" if i < 90 else "dev" for i in range(n)]})
    ratings = pd.DataFrame({"item": np.arange(n), "listener": ["L0"] * n, "overall": y[:n]})
    store = FeatureStore.create(tmp_path / "s.zarr", Corpus("manifest", items, pd.DataFrame({"overall": y[:n]}), ratings, ["overall"]))
    for k, name in enumerate(("a", "b")):
        group = store.group.require_group("features").create_group(name)
        group.create_array("audio", data=X[:n, k * DIM : (k + 1) * DIM].astype(np.float32))
        group.create_array("done", data=np.ones(n, dtype=bool))
        group.attrs.update({"embedder": name, "audio_dim": DIM, "text_dim": 0, "sample_rate": 16000, "window_s": 10.0, "hop_s": 10.0})
    store = FeatureStore.open(store.path)
    run = fit_run(store, RunConfig(embedders=["a", "b"], heads=["moe", "ridge"], cv=2, features=["audio"], params={"moe.max_epochs": 3}))
    save_run(run, tmp_path / "run")
    predicted = load_run(tmp_path / "run").predict(store, "dev")
    assert {"overall", "overall_std", "overall_gate_a", "overall_gate_b"} <= set(predicted.columns)
    np.testing.assert_allclose(predicted["overall_gate_a"] + predicted["overall_gate_b"], 1.0, rtol=1e-9)
    np.testing.assert_allclose(predicted["overall"], run.predict(store, "dev")["overall"], rtol=1e-9)
