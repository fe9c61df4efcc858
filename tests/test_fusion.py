"""Several embedders in one fit: stacked features, per-embedder blocks, provenance checks, and a
simulation where each embedder carries half of the quality signal.

The stores here are written the way any writer may (README, "The store"): items and labels
through ``FeatureStore.create``, features straight into ``features/<embedder>``.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from clapmos.embed.corpora.table import Corpus
from clapmos.embed.errors import ClapmosError
from clapmos.embed.store import FeatureStore
from clapmos.heads import PairedEmbeddingFeatures, make_head
from clapmos.heads.runs.run import RunConfig, fit_run, load_run, save_run


def write_features(store: FeatureStore, name: str, audio: np.ndarray, text: np.ndarray | None, **attrs) -> None:
    """Features of embedder ``name`` as the README's schema describes them (no text array when audio-only)."""
    group = store.group.require_group("features").create_group(name)
    group.create_array("audio", data=audio.astype(np.float32))
    if text is not None:
        group.create_array("text", data=text.astype(np.float32))
    group.create_array("done", data=np.ones(len(audio), dtype=bool))
    group.attrs.update({"embedder": name, "audio_dim": audio.shape[1], "text_dim": 0 if text is None else text.shape[1],
                        "sample_rate": 16000, "window_s": 10.0, "hop_s": 10.0, "pooling": "mean", **attrs})


def corpus_of(quality: np.ndarray, n_train: int) -> Corpus:
    n = len(quality)
    items = pd.DataFrame({
        "id": [f"c{i:04d}" for i in range(n)], "path": [f"/none/c{i}.wav" for i in range(n)],
        "text": [f"prompt {i % 7}" for i in range(n)], "system": [f"S{i % 10}" for i in range(n)],
        "split": ["train" if i < n_train else "dev" for i in range(n)],
    })
    ratings = pd.DataFrame({"item": np.arange(n), "listener": ["L0"] * n, "overall": quality})
    return Corpus("manifest", items, pd.DataFrame({"overall": quality}), ratings, ["overall"])


@pytest.fixture
def two_embedder_store(tmp_path):
    """600 clips whose quality is q1 + q2: embedder 'left' sees only q1, 'right' only q2."""
    rng = np.random.default_rng(0)
    n, dim = 600, 24
    q1, q2 = rng.normal(size=n), rng.normal(size=n)
    store = FeatureStore.create(tmp_path / "s.zarr", corpus_of(q1 + q2, n_train=400))
    for name, signal in (("left", q1), ("right", q2)):
        audio = rng.normal(size=(n, dim))
        audio[:, 0] += 2.0 * signal
        write_features(store, name, audio, rng.normal(size=(n, dim)), checkpoint_sha256=f"sha-{name}")
    write_features(store, "audio_only", rng.normal(size=(n, 8)), None)
    return FeatureStore.open(store.path)


def test_stacked_puts_each_embedders_audio_then_text_side_by_side(two_embedder_store):
    store = two_embedder_store
    X, layout = store.stacked(["right", "audio_only", "left"], "dev")
    assert layout == (("right", 24, 24), ("audio_only", 8, 0), ("left", 24, 24))
    expected = np.hstack([store.audio("right", "dev"), store.text("right", "dev"), store.audio("audio_only", "dev"),
                          store.audio("left", "dev"), store.text("left", "dev")])
    np.testing.assert_array_equal(X, expected)
    single, single_layout = store.stacked("left")
    np.testing.assert_array_equal(single, store.paired("left"))
    assert store.has_text("left") and not store.has_text("audio_only")


def test_missing_embedders_are_all_named(two_embedder_store):
    with pytest.raises(ClapmosError, match="no features of embedders 'm2d', 'clap' .*it has: audio_only, left, right"):
        two_embedder_store.stacked(["m2d", "left", "clap"])


def test_blocks_are_built_per_embedder_and_audio_only_ones_give_audio_only():
    rng = np.random.default_rng(1)
    a1, t1, a2 = rng.normal(size=(5, 3)), rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    X = np.hstack([a1, t1, a2])
    features = PairedEmbeddingFeatures(blocks=("text", "audio", "product"), layout=[("e1", 3, 3), ("e2", 2, 0)]).fit(X)
    np.testing.assert_array_equal(features.transform(X), np.hstack([a1, t1, a1 * t1, a2]))
    names = features.get_feature_names_out().tolist()
    assert names[:3] == ["e1.audio_0", "e1.audio_1", "e1.audio_2"] and names[-2:] == ["e2.audio_0", "e2.audio_1"]


def test_text_blocks_without_any_text_embedder_are_refused():
    X = np.ones((4, 5))
    with pytest.raises(ValueError, match="need text embeddings.*audio-only"):
        PairedEmbeddingFeatures(blocks=("audio", "cosine"), layout=[("w", 5, 0)]).fit(X)
    with pytest.raises(ValueError, match="describes 6 columns but X has 5"):
        PairedEmbeddingFeatures(layout=[("w", 3, 3)]).fit(X)


def test_a_fit_on_an_audio_only_embedder_says_which_features_need_text(two_embedder_store):
    config = RunConfig(embedders=["audio_only"], heads=["ridge"], targets=["overall"], features=["audio", "cosine"])
    with pytest.raises(ClapmosError, match="feature blocks cosine need text, but audio_only has no text.*--embedder audio_only,clap"):
        fit_run(two_embedder_store, config)
    with pytest.raises(ClapmosError, match="--head cosine compares audio with text"):
        fit_run(two_embedder_store, RunConfig(embedders=["audio_only"], heads=["cosine"]))
    fit_run(two_embedder_store, RunConfig(embedders=["audio_only"], heads=["ridge"], targets=["overall"], cv=2))


def test_the_cosine_head_refuses_several_embedders(two_embedder_store):
    with pytest.raises(ClapmosError, match="cosine head compares one embedder's audio and text"):
        fit_run(two_embedder_store, RunConfig(embedders=["left", "right"], heads=["cosine"], cv=2))


def held_out_srcc(store: FeatureStore, embedders: list[str]) -> float:
    run = fit_run(store, RunConfig(embedders=embedders, heads=["ridge"], features=["audio"], cv=3))
    predicted = run.predict(store, "dev")["overall"]
    return spearmanr(predicted, store.labels("dev")["overall"]).statistic


def test_fusing_two_embedders_that_each_carry_half_the_signal_beats_either_alone(two_embedder_store):
    left, right = held_out_srcc(two_embedder_store, ["left"]), held_out_srcc(two_embedder_store, ["right"])
    both = held_out_srcc(two_embedder_store, ["left", "right"])
    assert both - max(left, right) >= 0.15, f"left {left:.3f}, right {right:.3f}, both {both:.3f}"  # seen: 0.57, 0.58, 0.85


def test_predict_names_the_embedder_whose_features_differ(two_embedder_store, tmp_path):
    run = fit_run(two_embedder_store, RunConfig(embedders=["left", "right"], heads=["ridge"], cv=2))
    save_run(run, tmp_path / "run")
    assert json.loads((tmp_path / "run" / "config.json").read_text())["embedders"] == ["left", "right"]
    reloaded = load_run(tmp_path / "run")
    reloaded.predict(two_embedder_store, "dev")  # same store: accepted
    writable = FeatureStore.open(two_embedder_store.path, mode="r+")
    writable.group["features/right"].attrs["checkpoint_sha256"] = "another"
    with pytest.raises(ClapmosError, match="(?s)its 'right' features were made differently.*checkpoint_sha256: model 'sha-right', store 'another'"):
        reloaded.predict(FeatureStore.open(two_embedder_store.path), "dev")
    del writable.group["features/left"]
    with pytest.raises(ClapmosError, match="trained on left, right features.*--embedder left"):
        reloaded.predict(FeatureStore.open(two_embedder_store.path), "dev")


def test_make_head_takes_the_layout_to_its_feature_step():
    head = make_head("ridge", blocks=("audio", "cosine"), layout=[("a", 2, 2), ("b", 3, 0)])
    assert head.named_steps["features"].layout == (("a", 2, 2), ("b", 3, 0))
