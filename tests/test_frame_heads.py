"""The frame heads (``attn_mlp``, ``xattn``) on sequences of frame tokens: masks, attention, folds, saving, losses, outputs, bad input."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_validate

from clapmos.embed.store.frames import Frames
import clapmos.heads.nn.frame_regressor
from clapmos.embed.errors import ClapmosError
from clapmos.heads import AttentionMLPRegressor, CrossAttentionRegressor, CVEnsemble, NoListenerRatingsWarning
from clapmos.heads.runs.persistence import load_model, save_model
from clapmos.heads.runs.validation import check_head_parameters

SMALL = {"d_model": 16, "n_heads": 2, "hidden_sizes": (16,), "max_epochs": 8, "patience": 4, "lr": 1e-2, "random_state": 0}
HEADS = {
    "attn_mlp": AttentionMLPRegressor(**SMALL),
    "attn_mlp+encoder": AttentionMLPRegressor(n_layers=1, **SMALL),
    "attn_mlp+text": AttentionMLPRegressor(use_text=True, **SMALL),
    "xattn": CrossAttentionRegressor(**SMALL),
    "attn_mlp+distribution": AttentionMLPRegressor(output="distribution", **SMALL),
    "xattn+distribution": CrossAttentionRegressor(output="distribution", n_bins=9, **SMALL),
}
pytestmark = [pytest.mark.filterwarnings("ignore::clapmos.heads.NoListenerRatingsWarning"), pytest.mark.usefixtures("one_torch_thread")]


@pytest.fixture(scope="module")
def data():
    """48 clips of 2 to 9 tokens of 6 numbers, a text vector each; y is the largest first number of a clip."""
    rng = np.random.default_rng(0)
    sequences = [rng.normal(size=(int(n), 6)) for n in rng.integers(2, 10, size=48)]
    frames = Frames.from_list(sequences, [np.arange(len(s)) * 0.2 for s in sequences], text=rng.normal(size=(48, 4)),
                              ids=np.array([f"c{i}" for i in range(48)]))
    y = np.array([s[:, 0].max() for s in sequences])
    return frames, y


@pytest.fixture(scope="module", params=list(HEADS))
def fitted(request, data):
    frames, y = data
    return request.param, clone(HEADS[request.param]).fit(frames, y)


def test_attention_weights_cover_each_clips_tokens_and_sum_to_one(fitted, data):
    _, model = fitted
    frames, _ = data
    prediction, attention = model.predict(frames, return_attention=True)
    assert prediction.shape == (len(frames),)
    assert [len(w) for w in attention] == frames.lengths.tolist()
    np.testing.assert_allclose([w.sum() for w in attention], 1.0, atol=1e-12)
    assert all((w >= 0).all() for w in attention)
    np.testing.assert_allclose(model.predict(frames), prediction, rtol=0, atol=1e-12)  # the weights come from another attention kernel


def test_a_clips_prediction_does_not_depend_on_the_clips_batched_with_it(fitted, data):
    """Padding is masked: a short clip alone or among long ones, in any order, gets the same number."""
    _, model = fitted
    frames, _ = data
    full = model.predict(frames)
    alone = np.concatenate([model.predict(frames[[i]]) for i in range(len(frames))])
    order = np.random.default_rng(1).permutation(len(frames))
    np.testing.assert_allclose(alone, full, rtol=0, atol=1e-10)
    np.testing.assert_allclose(model.predict(frames[order]), full[order], rtol=0, atol=1e-10)


def test_the_same_seed_repeats_and_pickling_or_saving_keeps_the_predictions(fitted, data, tmp_path):
    name, model = fitted
    frames, y = data
    np.testing.assert_array_equal(clone(HEADS[name]).fit(frames, y).predict(frames), model.predict(frames))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).predict(frames), model.predict(frames))
    save_model(model, tmp_path / "model")
    restored = load_model(tmp_path / "model")
    np.testing.assert_array_equal(restored.predict(frames), model.predict(frames))
    assert not any(p.suffix == ".pkl" for p in (tmp_path / "model").iterdir())


def test_a_matrix_is_read_as_clips_of_one_token():
    rng = np.random.default_rng(2)
    X, text = rng.normal(size=(30, 4)), rng.normal(size=(30, 4))
    y = X[:, 0] + text[:, 1]
    as_matrix = AttentionMLPRegressor(**SMALL).fit(X, y)
    np.testing.assert_allclose(as_matrix.predict(Frames.from_matrix(X)), as_matrix.predict(X), atol=1e-12)
    paired = CrossAttentionRegressor(**SMALL).fit(np.hstack([X, text]), y)
    np.testing.assert_allclose(paired.predict(Frames.from_matrix(X, text)), paired.predict(np.hstack([X, text])), atol=1e-12)
    assert paired.n_features_in_ == 8 and paired.frame_dim_ == 4 and paired.text_dim_ == 4


def test_cross_validated_ensembles_slice_frames_and_route_listener_ratings(data):
    from sklearn import config_context

    frames, y = data
    rng = np.random.default_rng(3)
    scores = np.round(y[:, None] + rng.normal(0, 0.3, size=(len(y), 3)), 1)
    ids = np.array([["a", "b", "c"]] * len(y), dtype=object)
    with config_context(enable_metadata_routing=True):  # frame heads request the listener arrays by default
        ensemble = CVEnsemble(AttentionMLPRegressor(**SMALL, validation_fraction=None), n_splits=3).fit(frames, y, listener_scores=scores, listener_ids=ids)
    assert ensemble.oof_prediction_.shape == (len(y),) and len(ensemble.models_["head"]) == 3
    assert sum(m.screening_counts_[0]["ratings_in"] for m in ensemble.models_["head"]) == 2 * scores.size  # each rating in 2 of 3 folds
    mean, std = ensemble.predict(frames[:5], return_std=True)
    assert mean.shape == std.shape == (5,)
    attention = ensemble.attention(frames[:5])
    assert [len(w) for w in attention] == frames.lengths[:5].tolist()
    np.testing.assert_allclose([w.sum() for w in attention], 1.0, atol=1e-12)


def test_cross_validate_and_grid_search_take_frames(data):
    frames, y = data
    scores = cross_validate(AttentionMLPRegressor(**SMALL), frames, y, cv=3, scoring="neg_mean_squared_error")
    assert len(scores["test_score"]) == 3
    search = GridSearchCV(AttentionMLPRegressor(**SMALL), {"n_layers": [0, 1]}, cv=2).fit(frames, y)
    assert search.best_estimator_.predict(frames).shape == (len(frames),)


@pytest.mark.parametrize(
    "settings",
    [{"loss": "l1", "pairwise_weight": 0.0, "listener_targets": False}, {"loss": "mse", "pairwise_weight": 1.0}, {"loss": "l1"}],
)
def test_every_loss_trains_and_predicts_on_the_score_scale(data, settings):
    frames, y = data
    model = AttentionMLPRegressor(**{**SMALL, "max_epochs": 40, "validation_fraction": None}, **settings).fit(frames, 10 + 2 * y)
    prediction = model.predict(frames)
    assert abs(prediction.mean() - (10 + 2 * y).mean()) < 2.0 and np.corrcoef(prediction, y)[0, 1] > 0.3


def test_two_targets_are_predicted_together(data):
    frames, y = data
    Y = np.column_stack([y, -y])
    assert AttentionMLPRegressor(**SMALL).fit(frames, Y).predict(frames).shape == (len(y), 2)


def test_bad_frames_are_refused_with_the_clips_named(data):
    frames, y = data
    empty = Frames.from_list([np.ones((2, 6)), np.ones((0, 6))], ids=np.array(["ok", "silent"]))
    with pytest.raises(ValueError, match="1 clip\\(s\\) have no frame tokens: silent"):
        AttentionMLPRegressor(**SMALL).fit(empty, [1.0, 2.0])
    broken = Frames(frames.values.copy(), frames.offsets, ids=frames.ids)
    broken.values[frames.offsets[5]] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity in the frame tokens of 1 clip\\(s\\): c5"):
        AttentionMLPRegressor(**SMALL).fit(broken, y)
    model = AttentionMLPRegressor(**SMALL).fit(frames, y)
    other = Frames.from_list([np.ones((3, 5))])
    with pytest.raises(ValueError, match="X has 5 features .* expecting 6"):
        model.predict(other)
    no_text = Frames(frames.values, frames.offsets)
    with pytest.raises(ValueError, match="reads the clips' text vectors"):
        CrossAttentionRegressor(**SMALL).fit(no_text, y)
    with pytest.raises(ValueError, match="The .loss. parameter of AttentionMLPRegressor must be a str among"):
        AttentionMLPRegressor(loss="huber").fit(frames, y)
    with pytest.raises(ValueError, match="The .n_heads. parameter of AttentionMLPRegressor must divide d_model=16. Got 3"):
        AttentionMLPRegressor(**{**SMALL, "n_heads": 3}).fit(frames, y)


def test_without_listener_ratings_the_spo_targets_fall_back_with_a_warning(data):
    frames, y = data
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        AttentionMLPRegressor(**SMALL).fit(frames, y)
    assert any(issubclass(w.category, NoListenerRatingsWarning) for w in caught)


def test_the_distribution_output_predicts_the_mean_and_spread_of_its_bins_beside_the_attention(data, tmp_path):
    frames, y = data
    model = AttentionMLPRegressor(output="distribution", n_bins=7, **SMALL).fit(frames, y)
    mean, std, attention = model.predict(frames, return_std=True, return_attention=True)
    probabilities, centers = model.predict_distribution(frames), model.bin_centers_[0]
    np.testing.assert_allclose(centers, y.min() + (y.max() - y.min()) * np.arange(7) / 6, rtol=0, atol=1e-12)
    assert probabilities.shape == (len(y), 7) and mean.shape == std.shape == (len(y),)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(mean, [sum(p * c for p, c in zip(row, centers)) for row in probabilities], atol=1e-10)
    np.testing.assert_allclose(std**2, [sum(p * (c - m) ** 2 for p, c in zip(row, centers)) for row, m in zip(probabilities, mean)], atol=1e-10)
    np.testing.assert_allclose(model.predict(frames), mean, atol=1e-12)
    assert [len(w) for w in attention] == frames.lengths.tolist()
    save_model(model, tmp_path / "model")
    restored = load_model(tmp_path / "model")
    np.testing.assert_array_equal(restored.bin_centers_, model.bin_centers_)
    np.testing.assert_array_equal(restored.predict_distribution(frames), probabilities)
    two = CrossAttentionRegressor(output="distribution", score_range=(-4, 4), n_bins=5, **SMALL).fit(frames, np.column_stack([y, -y]))
    assert two.predict_distribution(frames).shape == (len(y), 2, 5) and two.predict(frames, return_std=True)[1].shape == (len(y), 2)
    assert two.bin_centers_.tolist() == [[-4.0, -2.0, 0.0, 2.0, 4.0]] * 2


def test_the_distribution_output_trains_on_y_and_stops_early_on_the_srcc_of_its_means(data, monkeypatch):
    """Listener ratings are not read (no SPO targets, no warning); early stopping ranks the decoded means against y."""
    frames, y = data
    calls = []
    train = clapmos.heads.nn.frame_regressor.train_module
    monkeypatch.setattr(clapmos.heads.nn.frame_regressor, "train_module", lambda *a, **k: calls.append(k) or train(*a, **k))
    scores = np.round(y[:, None] + np.random.default_rng(4).normal(0, 0.3, size=(len(y), 3)), 1)
    ids = np.array([["a", "b", "c"]] * len(y), dtype=object)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoListenerRatingsWarning)
        plain = AttentionMLPRegressor(output="distribution", n_bins=5, **SMALL).fit(frames, y)
        rated = AttentionMLPRegressor(output="distribution", n_bins=5, **SMALL).fit(frames, y, listener_scores=scores, listener_ids=ids)
    np.testing.assert_array_equal(rated.predict(frames), plain.predict(frames))
    assert not hasattr(plain, "mu_g_")
    np.testing.assert_array_equal(calls[0]["truth"], y[:, None])
    uniform = calls[0]["decode"](torch.zeros(2, 5))  # equal logits: the mean of the bins' centres
    np.testing.assert_allclose(uniform, np.full((2, 1), y.min() + (y.max() - y.min()) / 2), atol=1e-12)


def test_bad_output_settings_are_refused_naming_the_parameters(data):
    frames, y = data
    with pytest.raises(ValueError, match="The 'output' parameter of AttentionMLPRegressor must be a str among"):
        AttentionMLPRegressor(output="bins").fit(frames, y)
    with pytest.raises(ValueError, match="The 'n_bins' parameter of CrossAttentionRegressor must be an int in the range \\[2, 1000\\]"):
        CrossAttentionRegressor(output="distribution", n_bins=1).fit(frames, y)
    with pytest.raises(ValueError, match="score_range must be \\(low, high\\) with low < high"):
        AttentionMLPRegressor(output="distribution", score_range=(5, 1)).fit(frames, y)
    with pytest.raises(ValueError, match="'screening_tau' parameter of AttentionMLPRegressor .* Got screening_tau=1.0 with output='distribution'"):
        AttentionMLPRegressor(output="distribution", screening_tau=1.0).fit(frames, y)
    with pytest.raises(ClapmosError, match="--param output=distribution --param screening_tau=1.0: The 'screening_tau' parameter"):
        check_head_parameters("attn_mlp", {"output": "distribution", "screening_tau": 1.0})
    score = AttentionMLPRegressor(**SMALL).fit(frames, y)
    with pytest.raises(ValueError, match="return_std=True needs output='distribution'; this AttentionMLPRegressor has output='score'"):
        score.predict(frames, return_std=True)
    with pytest.raises(ValueError, match="predict_distribution needs output='distribution'"):
        score.predict_distribution(frames)
