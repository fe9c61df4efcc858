"""Proximity blocks (cosine, angular, L1, L2) equal the XACLE second place's formulas, per embedder.

References are loops written from METHODS.md §5: angular similarity 1 - arccos(cos)/π; the
L1 and L2 distances of the unit-normalised audio and text vectors, each divided by its
maximum — learnt on the training rows and reused on any other rows.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clapmos.heads import PairedEmbeddingFeatures, make_head

TOL = 1e-6


def unit(v):
    norm = math.sqrt(sum(x * x for x in v))
    return [x / norm for x in v]


def ref_row(a, t):
    ua, ut = unit(a), unit(t)
    cos = sum(x * y for x, y in zip(ua, ut))
    l1 = sum(abs(x - y) for x, y in zip(ua, ut))
    l2 = math.sqrt(sum((x - y) ** 2 for x, y in zip(ua, ut)))
    return cos, 1 - math.acos(max(-1.0, min(1.0, cos))) / math.pi, l1, l2


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 12), dim=st.integers(2, 6))
def test_proximity_blocks_equal_the_published_formulas_with_training_maxima(seed, n, dim):
    rng = np.random.default_rng(seed)
    train = rng.normal(size=(n, 2 * dim))
    other = rng.normal(size=(5, 2 * dim))
    features = PairedEmbeddingFeatures(blocks=("l2", "cosine", "angular", "l1")).fit(train)
    rows = [ref_row(x[:dim], x[dim:]) for x in train]
    max_l1, max_l2 = max(r[2] for r in rows), max(r[3] for r in rows)
    for X in (train, other):
        got = features.transform(X)
        for out, x in zip(got, X):
            cos, angular, l1, l2 = ref_row(x[:dim], x[dim:])
            np.testing.assert_allclose(out, [cos, angular, l1 / max_l1, l2 / max_l2], atol=TOL)


def test_held_out_rows_keep_the_training_scale():
    """A held-out pair farther apart than any training pair gets a distance above 1."""
    train = np.array([[1.0, 0.0, 1.0, 0.1], [1.0, 0.0, 1.0, 0.2]])
    opposite = np.array([[1.0, 0.0, -1.0, 0.0]])
    features = PairedEmbeddingFeatures(blocks=("l2",)).fit(train)
    assert features.transform(train).max() == pytest.approx(1.0)
    assert features.transform(opposite)[0, 0] > 5
    assert features.get_feature_names_out().tolist() == ["l2"]


def test_angular_similarity_spans_zero_to_one():
    X = np.array([[1.0, 0.0, 1.0, 0.0], [1.0, 0.0, -1.0, 0.0], [1.0, 0.0, 0.0, 1.0]])
    np.testing.assert_allclose(PairedEmbeddingFeatures(blocks=("angular",)).fit_transform(X)[:, 0], [1.0, 0.0, 0.5], atol=1e-12)


def test_proximity_is_built_per_embedder_and_skipped_for_audio_only_ones():
    rng = np.random.default_rng(0)
    a1, t1, a2, t2, w = (rng.normal(size=(6, d)) for d in (3, 3, 2, 2, 4))
    X = np.hstack([a1, t1, a2, t2, w])
    layout = [("m2d", 3, 3), ("clap", 2, 2), ("whisper", 4, 0)]
    features = PairedEmbeddingFeatures(blocks=("audio", "l1", "angular"), layout=layout).fit(X)
    assert features.get_feature_names_out().tolist() == [
        "m2d.audio_0", "m2d.audio_1", "m2d.audio_2", "m2d.angular", "m2d.l1",
        "clap.audio_0", "clap.audio_1", "clap.angular", "clap.l1",
        "whisper.audio_0", "whisper.audio_1", "whisper.audio_2", "whisper.audio_3",
    ]
    out = features.transform(X)
    l1 = [ref_row(a, t)[2] for a, t in zip(a2, t2)]
    np.testing.assert_allclose(out[:, 8], np.array(l1) / max(l1), atol=TOL)


def test_a_head_can_read_only_some_embedders_of_the_layout():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(8, 10))
    layout = [("m2d", 3, 3), ("clap", 2, 2)]
    features = PairedEmbeddingFeatures(blocks=("audio", "text"), layout=layout, embedders=["clap"]).fit(X)
    np.testing.assert_array_equal(features.transform(X), X[:, 6:])
    with pytest.raises(ValueError, match="embedders must name some of the layout's embedders \\(m2d, clap\\)"):
        PairedEmbeddingFeatures(layout=layout, embedders=["whisper"]).fit(X)
    head = make_head("ridge", blocks=("audio",), layout=layout, features__embedders=("m2d",)).fit(X, rng.normal(size=8))
    assert head.named_steps["features"].get_feature_names_out().tolist() == ["m2d.audio_0", "m2d.audio_1", "m2d.audio_2"]


def test_unit_norm_normalises_audio_and_text_separately():
    X = np.array([[3.0, 4.0, 0.0, 2.0], [1.0, 0.0, 5.0, 0.0]])
    out = PairedEmbeddingFeatures(blocks=("audio", "text"), unit_norm=True).fit_transform(X)
    np.testing.assert_allclose(out, [[0.6, 0.8, 0.0, 1.0], [1.0, 0.0, 1.0, 0.0]])
