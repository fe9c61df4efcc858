"""PairedEmbeddingFeatures builds exactly the requested blocks from audio | text."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cosine as cosine_distance

from clapmos.heads.inputs.features import BLOCK_ORDER, PairedEmbeddingFeatures, paired_cosine


@pytest.fixture
def paired():
    rng = np.random.default_rng(0)
    audio, text = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    return np.hstack([audio, text]), audio, text


def test_blocks_follow_the_documented_order_whatever_the_request_order(paired):
    X, audio, text = paired
    out = PairedEmbeddingFeatures(blocks=("cosine", "absdiff", "text", "product", "audio")).fit_transform(X)
    expected_cos = [1 - cosine_distance(a, t) for a, t in zip(audio, text)]
    np.testing.assert_allclose(out, np.column_stack([audio, text, audio * text, np.abs(audio - text), expected_cos]))
    assert BLOCK_ORDER == ("audio", "text", "product", "absdiff", "cosine", "angular", "l1", "l2")


@pytest.mark.parametrize(
    ("blocks", "width"), [(("audio",), 4), (("text",), 4), (("audio", "text", "cosine"), 9), (("product", "absdiff"), 8)]
)
def test_each_combination_has_the_width_of_its_blocks(paired, blocks, width):
    assert PairedEmbeddingFeatures(blocks=blocks).fit_transform(paired[0]).shape == (6, width)


def test_feature_names_name_every_column(paired):
    features = PairedEmbeddingFeatures(blocks=("text", "cosine")).fit(paired[0])
    assert features.get_feature_names_out().tolist() == ["text_0", "text_1", "text_2", "text_3", "cosine"]
    frame = PairedEmbeddingFeatures(blocks=("text", "cosine")).set_output(transform="pandas").fit_transform(paired[0])
    assert frame.columns[-1] == "cosine"


def test_an_explicit_audio_dim_splits_unequal_halves():
    X = np.arange(16.0).reshape(2, 8)
    out = PairedEmbeddingFeatures(blocks=("audio", "text"), audio_dim=3).fit(X)
    assert out.audio_dim_ == 3 and out.get_feature_names_out()[3] == "text_0"
    with pytest.raises(ValueError, match="one size, got 3 and 5"):
        PairedEmbeddingFeatures(blocks=("product",), audio_dim=3).fit(X)


def test_an_odd_width_without_audio_dim_is_refused_with_the_remedy():
    with pytest.raises(ValueError, match="even number of features.*got 5 feature.*audio_dim"):
        PairedEmbeddingFeatures().fit(np.ones((3, 5)))


@pytest.mark.parametrize("blocks", [(), ("audio", "spectrum"), "melody"])
def test_unknown_or_empty_blocks_are_refused_listing_the_valid_ones(blocks):
    with pytest.raises(ValueError, match="non-empty selection of \\['audio', 'text'"):
        PairedEmbeddingFeatures(blocks=blocks).fit(np.ones((3, 4)))


def test_a_single_block_may_be_given_as_a_string(paired):
    np.testing.assert_array_equal(PairedEmbeddingFeatures(blocks="audio").fit_transform(paired[0]), paired[1])


def test_float32_stays_float32(paired):
    assert PairedEmbeddingFeatures(blocks=BLOCK_ORDER).fit_transform(paired[0].astype(np.float32)).dtype == np.float32


def test_the_cosine_of_an_all_zero_half_is_zero():
    assert paired_cosine(np.array([[0.0, 0.0, 1.0, 2.0]])).tolist() == [0.0]


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    audio_scale=st.floats(0.01, 100),
    text_scale=st.floats(0.01, 100),
)
def test_the_cosine_lies_in_minus_one_one_and_ignores_the_length_of_either_half(seed, audio_scale, text_scale):
    rng = np.random.default_rng(seed)
    audio, text = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    cos = paired_cosine(np.hstack([audio, text]))
    assert np.all(np.abs(cos) <= 1 + 1e-12)
    np.testing.assert_allclose(paired_cosine(np.hstack([audio_scale * audio, text_scale * text])), cos, atol=1e-12)
