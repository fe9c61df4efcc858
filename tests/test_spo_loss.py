"""The SPO loss is MSE + 0.5 x the halved mean pairwise hinge of METHODS.md §3.3."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from clapmos.heads.nn.losses import RegressionLoss, pairwise_hinge
from clapmos.heads.spo import SpoMLPRegressor


def spo_loss(pairwise_weight: float = 0.5, margin: float = 0.1) -> RegressionLoss:
    """The SPO loss: MSE + λ · pairwise hinge (METHODS.md §3.3)."""
    return RegressionLoss("mse", pairwise_weight=pairwise_weight, margin=margin)

PRED = torch.tensor([[1.0], [2.0], [4.0]])
TRUE = torch.tensor([[1.0], [3.0], [3.0]])


def reference_pairwise(pred: np.ndarray, true: np.ndarray, margin: float) -> float:
    """Loop over every ordered pair (i, j) of the batch, i = j included, per output."""
    terms = [
        max(0.0, abs((pred[i, k] - pred[j, k]) - (true[i, k] - true[j, k])) - margin)
        for k in range(pred.shape[1])
        for i, j in itertools.product(range(len(pred)), repeat=2)
    ]
    return float(np.mean(terms)) / 2


def test_pairwise_term_matches_the_hand_computed_value():
    # |pred diff - true diff| for (1,2), (1,3), (2,3): 1, 1, 2; minus m = 0.1: 0.9, 0.9, 1.9,
    # each twice (both orders), diagonal 0: sum 7.4 over 9 ordered pairs, halved.
    assert pairwise_hinge(PRED, TRUE, margin=0.1).item() == pytest.approx(7.4 / 9 / 2)


def test_spo_loss_matches_the_hand_computed_value():
    mse = (0 + 1 + 1) / 3
    assert spo_loss()(PRED, TRUE).item() == pytest.approx(mse + 0.5 * 7.4 / 9 / 2)


def test_defaults_are_the_published_weight_and_margin():
    assert (SpoMLPRegressor().pairwise_weight, SpoMLPRegressor().margin) == (0.5, 0.1)


def test_differences_within_the_margin_cost_nothing():
    true = torch.tensor([[0.0], [1.0], [2.0]])
    assert pairwise_hinge(true + torch.tensor([[0.05], [0.0], [-0.05]]), true, margin=0.1).item() == 0.0


def test_a_single_item_batch_has_no_pairwise_cost():
    assert pairwise_hinge(torch.tensor([[3.0]]), torch.tensor([[0.0]]), margin=0.1).item() == 0.0


@settings(max_examples=50, deadline=None)
@given(
    batch=st.integers(1, 8),
    outputs=st.integers(1, 3),
    margin=st.floats(0.0, 1.0),
    seed=st.integers(0, 10_000),
)
def test_pairwise_term_equals_the_loop_over_ordered_pairs(batch, outputs, margin, seed):
    rng = np.random.default_rng(seed)
    pred, true = rng.normal(size=(batch, outputs)), rng.normal(size=(batch, outputs))
    got = pairwise_hinge(torch.tensor(pred), torch.tensor(true), margin).item()
    assert got == pytest.approx(reference_pairwise(pred, true, margin), abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(shift=st.floats(-100, 100), seed=st.integers(0, 10_000))
def test_pairwise_term_ignores_a_constant_shift_of_the_predictions(shift, seed):
    rng = np.random.default_rng(seed)
    pred, true = torch.tensor(rng.normal(size=(6, 1))), torch.tensor(rng.normal(size=(6, 1)))
    assert pairwise_hinge(pred + shift, true).item() == pytest.approx(pairwise_hinge(pred, true).item(), abs=1e-9)


def test_with_two_outputs_the_loss_is_the_mean_of_the_per_output_losses():
    rng = np.random.default_rng(0)
    pred, true = torch.tensor(rng.normal(size=(5, 2))), torch.tensor(rng.normal(size=(5, 2)))
    loss = spo_loss(pairwise_weight=0.7, margin=0.2)
    per_output = [loss(pred[:, [k]], true[:, [k]]).item() for k in range(2)]
    assert loss(pred, true).item() == pytest.approx(np.mean(per_output))


def test_the_loss_has_finite_gradients():
    pred = PRED.clone().requires_grad_(True)
    spo_loss()(pred, TRUE).backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
