"""Distribution heads trained on each clip's histogram of ratings (known truth).

800 clips on a 1-5 scale, each rated by 5 listeners. How much the listeners disagree (the
standard deviation of their ratings around the clip's quality) depends on the clip's
features, and is known. Trained on the histograms of the ratings, the predicted spread
ranks held-out clips by their true disagreement; trained on a Gaussian around the clip
mean, it carries little of it (the mean hides the disagreement).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from clapmos.heads.attn_mlp import AttentionMLPRegressor
from clapmos.heads.dist import DistributionRegressor

pytestmark = pytest.mark.usefixtures("one_torch_thread")
N, N_TRAIN, RATERS = 800, 500, 5


def disagreeing_listeners(seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, 8))
    quality = 3 + 0.8 * np.tanh(X[:, 0])
    disagreement = 0.2 + 1.2 / (1 + np.exp(-2 * X[:, 1]))
    ratings = np.clip(np.round(quality[:, None] + rng.normal(size=(N, RATERS)) * disagreement[:, None]), 1, 5)
    return X, ratings, quality, disagreement


def spread_srcc(model, X, disagreement) -> float:
    return spearmanr(model.predict_spread(X[N_TRAIN:]), disagreement[N_TRAIN:]).statistic


def test_histogram_training_ranks_clips_by_true_disagreement_better_than_the_gaussian_around_the_mean():
    X, ratings, quality, disagreement = disagreeing_listeners()
    fits = {}
    for kind in ("gaussian", "histogram"):
        model = DistributionRegressor(hidden_sizes=(32,), lr=1e-2, score_range=(1, 5), distribution_targets=kind, random_state=0)
        fits[kind] = model.fit(X[:N_TRAIN], ratings[:N_TRAIN].mean(axis=1), listener_scores=ratings[:N_TRAIN])
    assert spread_srcc(fits["histogram"], X, disagreement) > 0.7  # measured 0.83
    assert spread_srcc(fits["histogram"], X, disagreement) > spread_srcc(fits["gaussian"], X, disagreement) + 0.3  # gaussian: 0.28
    for model in fits.values():  # the means stay as good
        assert spearmanr(model.predict(X[N_TRAIN:]), quality[N_TRAIN:]).statistic > 0.9


def test_the_frame_heads_distribution_output_trains_on_histograms_too():
    X, ratings, _, disagreement = disagreeing_listeners(1)
    fits = {}
    for kind in ("gaussian", "histogram"):
        model = AttentionMLPRegressor(output="distribution", distribution_targets=kind, score_range=(1, 5), d_model=16, n_heads=2,
                                      hidden_sizes=(32,), lr=1e-2, max_epochs=40, random_state=0)
        fits[kind] = model.fit(X[:N_TRAIN], ratings[:N_TRAIN].mean(axis=1), listener_scores=ratings[:N_TRAIN])
    # measured 0.95 against 0.84: the Gaussian-trained attention head learns part of the disagreement from how
    # noisy the clip means are, the histograms carry it directly
    assert spread_srcc(fits["histogram"], X, disagreement) > max(0.9, spread_srcc(fits["gaussian"], X, disagreement) + 0.05)


def test_histogram_targets_are_the_mean_of_each_ratings_smoothed_target():
    from clapmos.heads.nn.distribution import bin_centers, gaussian_targets, rating_histograms

    centers = bin_centers(1, 5, 9)
    ratings = np.array([[1.0, 4.0, np.nan], [np.nan, np.nan, np.nan]])
    got = rating_histograms(ratings, centers, 0.5, fallback=np.array([2.5, 3.0]))
    np.testing.assert_allclose(got[0], (gaussian_targets(np.array([1.0]), centers, 0.5)[0] + gaussian_targets(np.array([4.0]), centers, 0.5)[0]) / 2)
    np.testing.assert_allclose(got[1], gaussian_targets(np.array([3.0]), centers, 0.5)[0])


def test_a_run_writes_the_listener_spread_beside_the_ensemble_spread(tmp_path):
    from clapmos.embed.corpora.demo import make_demo_corpus
    from typer.testing import CliRunner

    from clapmos import cli
    from clapmos.embed.store import FeatureStore
    from clapmos.heads.runs.run import RunConfig, fit_run

    make_demo_corpus(tmp_path / "corpus", n_clips=40, seed=1)
    result = CliRunner().invoke(cli.app, ["embed", "--corpus", "musiceval", "--root", str(tmp_path / "corpus"), "--embedder", "spectral",
                                          "--out", str(tmp_path / "s.zarr")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    store = FeatureStore.open(tmp_path / "s.zarr")
    run = fit_run(store, RunConfig(embedders=["spectral"], heads=["dist", "ridge"], cv=2,
                                   params={"dist.max_epochs": 3, "dist.distribution_targets": "histogram"}))
    predicted = run.predict(store, "dev")
    assert {"overall_std", "overall_spread"} <= set(predicted.columns)
    fold_models = run.models["overall"].models_["dist"]
    expected = np.mean([m.named_steps["model"].predict_spread(m[:-1].transform(store.stacked(["spectral"], "dev")[0])) for m in fold_models], axis=0)
    np.testing.assert_allclose(predicted["overall_spread"], expected, rtol=1e-10)
    assert not np.allclose(predicted["overall_spread"], predicted["overall_std"])
