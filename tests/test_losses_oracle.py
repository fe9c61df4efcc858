"""Every new loss and target transform equals a brute-force reference written from METHODS.md §5.

The references below are loops over clips, pairs and bins, written from the formulas as
METHODS.md states them (not from the code under test), and compared on small random
inputs to 1e-6.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from clapmos.heads.nn.distribution import (
    bin_centers,
    coral_decode,
    coral_loss,
    coral_targets,
    distribution_mean,
    distribution_std,
    gaussian_targets,
    kl_divergence,
)
from clapmos.heads.nn.losses import XACLE_CLASS_EDGES, RegressionLoss, class_balanced_weights, class_counts, pairwise_hinge
from clapmos.heads.inputs.targets import target_affine

TOL = 1e-6
seeds = st.integers(0, 2**31 - 1)


# ----------------------------------------------------------------------------- references
def ref_class(score: float) -> int:
    """The bin of edges [-1, 1, 2, ..., 10] holding ``score`` (left-closed; 10 in the last bin)."""
    edges = [-1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    for c in range(10):
        if edges[c] <= score < edges[c + 1]:
            return c
    return 9 if score >= 10 else 0


def ref_weights(scores: list[float], beta: float) -> list[float]:
    """w_i = (1 - β) / (1 - β^n_c(i)), n_c = training clips in the clip's class."""
    classes = [ref_class(s) for s in scores]
    return [(1 - beta) / (1 - beta ** classes.count(c)) for c in classes]


def ref_clipped_mse_published(pred, true, weights, tau):
    """The published code: per-clip clipped errors (B, 1) times normalised weights (B,) broadcast to B×B, then averaged."""
    B = len(pred)
    total = sum(weights)
    w = [x / total for x in weights]
    errors = [(p - y) ** 2 if abs(p - y) > tau else 0.0 for p, y in zip(pred, true)]
    return sum(errors[i] * w[j] for i in range(B) for j in range(B)) / (B * B)


def ref_clipped_mse_per_clip(pred, true, weights, tau):
    total = sum(weights)
    return sum((w / total) * ((p - y) ** 2 if abs(p - y) > tau else 0.0) for p, y, w in zip(pred, true, weights))


def ref_pairwise_weighted(pred, true, weights, margin):
    """L_ij = max(0, |(p_i - p_j) - (y_i - y_j)| - m) · sqrt(w_i w_j), averaged over all B×B ordered pairs, halved."""
    B = len(pred)
    total = sum(weights)
    w = [x / total for x in weights]
    terms = [
        max(0.0, abs((pred[i] - pred[j]) - (true[i] - true[j])) - margin) * math.sqrt(w[i] * w[j])
        for i in range(B)
        for j in range(B)
    ]
    return sum(terms) / len(terms) / 2


def ref_gaussian(score, centers, sigma):
    s = min(max(score, centers[0]), centers[-1])
    if sigma == 0:
        nearest = min(range(len(centers)), key=lambda k: abs(s - centers[k]))
        return [1.0 if k == nearest else 0.0 for k in range(len(centers))]
    raw = [math.exp(-((s - c) ** 2) / (2 * sigma**2)) for c in centers]
    return [r / sum(raw) for r in raw]


def ref_kl(p, logits):
    top = max(logits)
    log_norm = top + math.log(sum(math.exp(v - top) for v in logits))
    return sum(pk * (math.log(pk) - (v - log_norm)) for pk, v in zip(p, logits) if pk > 0)


# ----------------------------------------------------------------------------- class-balanced loss
@settings(max_examples=40, deadline=None)
@given(seed=seeds, n=st.integers(1, 40), beta=st.sampled_from([0.0, 0.5, 0.9, 0.99, 0.999]))
def test_class_balanced_weights_equal_the_effective_number_formula(seed, n, beta):
    scores = np.random.default_rng(seed).uniform(-0.5, 10.0, size=n).round(1)
    got = class_balanced_weights(class_counts(scores, XACLE_CLASS_EDGES), beta)
    np.testing.assert_allclose(got, ref_weights(scores.tolist(), beta), rtol=TOL, atol=TOL)


def test_class_edges_are_the_published_ones_and_bins_close_on_the_left():
    assert XACLE_CLASS_EDGES == (-1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
    scores = [0.0, 0.99, 1.0, 1.5, 9.0, 9.99, 10.0]
    classes = [ref_class(s) for s in scores]
    assert class_counts(np.array(scores)).tolist() == [classes.count(c) for c in classes] == [2, 2, 2, 2, 3, 3, 3]


@settings(max_examples=40, deadline=None)
@given(seed=seeds, batch=st.integers(1, 12), tau=st.sampled_from([0.0, 0.25, 0.5]), beta=st.sampled_from([0.9, 0.99]))
def test_the_published_clipped_mse_is_the_b_by_b_broadcast(seed, batch, tau, beta):
    rng = np.random.default_rng(seed)
    scores = rng.uniform(0, 10, size=batch)
    true = (scores - 5) / 5
    pred = true + rng.normal(0, 0.4, size=batch)
    weights = ref_weights(scores.tolist(), beta)
    loss = RegressionLoss("clipped_mse", tau=tau, class_weighting="published")
    got = loss(torch.tensor(pred)[:, None], torch.tensor(true)[:, None], weight=torch.tensor(weights)[:, None]).item()
    assert got == pytest.approx(ref_clipped_mse_published(pred.tolist(), true.tolist(), weights, tau), abs=TOL)


@settings(max_examples=40, deadline=None)
@given(seed=seeds, batch=st.integers(1, 12), tau=st.sampled_from([0.0, 0.25, 0.5]))
def test_the_per_clip_variant_weighs_each_clipped_error(seed, batch, tau):
    rng = np.random.default_rng(seed)
    scores = rng.uniform(0, 10, size=batch)
    true, pred = (scores - 5) / 5, (scores - 5) / 5 + rng.normal(0, 0.4, size=batch)
    weights = ref_weights(scores.tolist(), 0.99)
    loss = RegressionLoss("clipped_mse", tau=tau, class_weighting="per_clip")
    got = loss(torch.tensor(pred)[:, None], torch.tensor(true)[:, None], weight=torch.tensor(weights)[:, None]).item()
    assert got == pytest.approx(ref_clipped_mse_per_clip(pred.tolist(), true.tolist(), weights, tau), abs=TOL)


@settings(max_examples=40, deadline=None)
@given(seed=seeds, batch=st.integers(1, 12), margin=st.sampled_from([0.0, 0.1, 0.3]))
def test_the_class_balanced_pairwise_term_equals_the_loop_over_pairs(seed, batch, margin):
    rng = np.random.default_rng(seed)
    scores = rng.uniform(0, 10, size=batch)
    true, pred = (scores - 5) / 5, rng.normal(size=batch)
    weights = ref_weights(scores.tolist(), 0.99)
    w = torch.tensor(weights)[:, None]
    got = pairwise_hinge(torch.tensor(pred)[:, None], torch.tensor(true)[:, None], margin, w / w.sum()).item()
    assert got == pytest.approx(ref_pairwise_weighted(pred.tolist(), true.tolist(), weights, margin), abs=TOL)


@settings(max_examples=30, deadline=None)
@given(seed=seeds, batch=st.integers(2, 12))
def test_the_xacle2027_loss_is_clipped_mse_plus_half_the_pairwise_term(seed, batch):
    rng = np.random.default_rng(seed)
    scores = rng.uniform(0, 10, size=batch)
    true, pred = (scores - 5) / 5, rng.normal(size=batch)
    weights = ref_weights(scores.tolist(), 0.99)
    loss = RegressionLoss("clipped_mse", tau=0.25, pairwise_weight=0.5, margin=0.1, class_weighting="published")
    got = loss(torch.tensor(pred)[:, None], torch.tensor(true)[:, None], weight=torch.tensor(weights)[:, None]).item()
    expected = ref_clipped_mse_published(pred.tolist(), true.tolist(), weights, 0.25) + 0.5 * ref_pairwise_weighted(
        pred.tolist(), true.tolist(), weights, 0.1
    )
    assert got == pytest.approx(expected, abs=TOL)


@settings(max_examples=30, deadline=None)
@given(seed=seeds, batch=st.integers(1, 12), tau=st.sampled_from([0.0, 0.25, 1.0]))
def test_clipped_mse_ignores_errors_up_to_tau(seed, batch, tau):
    rng = np.random.default_rng(seed)
    pred, true = rng.normal(size=batch), rng.normal(size=batch)
    got = RegressionLoss("clipped_mse", tau=tau)(torch.tensor(pred)[:, None], torch.tensor(true)[:, None]).item()
    expected = sum((p - y) ** 2 for p, y in zip(pred, true) if abs(p - y) > tau) / batch
    assert got == pytest.approx(expected, abs=TOL)


# ----------------------------------------------------------------------------- target transforms
@settings(max_examples=30, deadline=None)
@given(seed=seeds, n=st.integers(2, 30))
def test_the_xacle_target_scaling_is_score_minus_5_over_5_and_back(seed, n):
    scores = np.random.default_rng(seed).uniform(0, 10, size=(n, 1))
    center, scale = target_affine((5, 5), scores)
    scaled = (scores - center) / scale
    np.testing.assert_allclose(scaled[:, 0], [(s - 5) / 5 for s in scores[:, 0]], atol=TOL)
    np.testing.assert_allclose((5 * scaled + 5)[:, 0], scores[:, 0], atol=TOL)


@settings(max_examples=30, deadline=None)
@given(seed=seeds, n=st.integers(2, 30))
def test_standardize_uses_the_training_mean_and_population_std(seed, n):
    scores = np.random.default_rng(seed).uniform(1, 5, size=(n, 2))
    center, scale = target_affine("standardize", scores)
    for j in range(2):
        column = scores[:, j].tolist()
        mean = sum(column) / n
        assert center[j] == pytest.approx(mean, abs=TOL)
        assert scale[j] == pytest.approx(math.sqrt(sum((v - mean) ** 2 for v in column) / n), abs=TOL)


# ----------------------------------------------------------------------------- distribution targets
@settings(max_examples=40, deadline=None)
@given(seed=seeds, n=st.integers(1, 10), k=st.integers(2, 25), sigma=st.sampled_from([0.0, 0.1, 0.25, 1.0]))
def test_gaussian_smoothed_targets_equal_the_formula(seed, n, k, sigma):
    scores = np.random.default_rng(seed).uniform(0.0, 6.0, size=n)  # some outside [1, 5]: clamped
    centers = bin_centers(1.0, 5.0, k)
    assert centers.tolist() == pytest.approx([1 + 4 * i / (k - 1) for i in range(k)], abs=TOL)
    got = gaussian_targets(scores, centers, sigma)
    for row, s in zip(got, scores):
        np.testing.assert_allclose(row, ref_gaussian(float(s), centers.tolist(), sigma), atol=TOL)


@pytest.mark.parametrize(("sigma", "limit"), [(1e300, "uniform"), (1e-200, "one-hot")])
def test_extreme_sigmas_give_their_limits_not_nan(sigma, limit):
    centers = bin_centers(1.0, 5.0, 5)
    got = gaussian_targets(np.array([3.1, 1.0]), centers, sigma)
    expected = np.full((2, 5), 0.2) if limit == "uniform" else gaussian_targets(np.array([3.1, 1.0]), centers, 0.0)
    np.testing.assert_allclose(got, expected, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=seeds, batch=st.integers(1, 6), k=st.integers(2, 12))
def test_kl_divergence_equals_the_sum_over_bins(seed, batch, k):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(batch, 1, k))
    targets = gaussian_targets(rng.uniform(1, 5, size=batch), bin_centers(1, 5, k), rng.choice([0.0, 0.3]))[:, None, :]
    got = kl_divergence(torch.tensor(logits), torch.tensor(targets)).item()
    expected = sum(ref_kl(targets[b, 0].tolist(), logits[b, 0].tolist()) for b in range(batch)) / batch
    assert got == pytest.approx(expected, abs=TOL)


@settings(max_examples=30, deadline=None)
@given(seed=seeds, k=st.integers(2, 20))
def test_mean_and_std_of_a_distribution_over_bins(seed, k):
    q = np.random.default_rng(seed).dirichlet(np.ones(k))
    centers = bin_centers(0, 10, k).tolist()
    mean = sum(p * c for p, c in zip(q, centers))
    std = math.sqrt(sum(p * (c - mean) ** 2 for p, c in zip(q, centers)))
    assert distribution_mean(q, np.array(centers)) == pytest.approx(mean, abs=TOL)
    assert distribution_std(q, np.array(centers)) == pytest.approx(std, abs=TOL)


# ----------------------------------------------------------------------------- CORAL
@settings(max_examples=40, deadline=None)
@given(seed=seeds, n=st.integers(1, 10), k=st.integers(2, 20))
def test_coral_targets_are_score_above_each_threshold(seed, n, k):
    scores = np.random.default_rng(seed).uniform(0.0, 6.0, size=n)
    centers = bin_centers(1, 5, k).tolist()
    thresholds = [(centers[i] + centers[i + 1]) / 2 for i in range(k - 1)]
    got = coral_targets(scores, np.array(centers))
    for row, s in zip(got, scores):
        s = min(max(s, 1.0), 5.0)
        assert row.tolist() == [1.0 if s > t else 0.0 for t in thresholds]


@settings(max_examples=40, deadline=None)
@given(seed=seeds, batch=st.integers(1, 6), k=st.integers(2, 12))
def test_coral_loss_is_the_sum_of_binary_cross_entropies(seed, batch, k):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(batch, k - 1))
    targets = coral_targets(rng.uniform(1, 5, size=batch), bin_centers(1, 5, k))

    def bce(z, t):
        p = 1 / (1 + math.exp(-z))
        return -(t * math.log(p) + (1 - t) * math.log(1 - p))

    expected = sum(bce(logits[b, i], targets[b, i]) for b in range(batch) for i in range(k - 1)) / batch
    assert coral_loss(torch.tensor(logits), torch.tensor(targets)).item() == pytest.approx(expected, abs=TOL)


@settings(max_examples=40, deadline=None)
@given(seed=seeds, k=st.integers(2, 20))
def test_coral_decoding_is_the_expected_rank_on_the_score_scale(seed, k):
    logits = np.random.default_rng(seed).normal(0, 3, size=k - 1)
    centers = bin_centers(1, 5, k)
    rank = sum(1 / (1 + math.exp(-z)) for z in logits)
    assert coral_decode(logits[None], centers)[0] == pytest.approx(1 + rank * 4 / (k - 1), abs=TOL)


def test_certain_thresholds_decode_to_the_bin_of_the_score():
    centers = bin_centers(1, 5, 20)
    for s in (1.0, 2.3, 4.99):
        logits = np.where(coral_targets(np.array([s]), centers) > 0, 40.0, -40.0)
        nearest = centers[np.abs(centers - s).argmin()]
        assert coral_decode(logits, centers)[0] == pytest.approx(nearest, abs=1e-9)
