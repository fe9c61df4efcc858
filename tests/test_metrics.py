"""The scorer reproduces the challenges' numbers (textbook formulas, independent of scipy.stats) at both levels, with ties."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clapmos.evaluation import EvaluationWarning, format_line, markdown_table, score
from clapmos.evaluation.metrics import METRICS, system_means

ATOL = 1e-12
PROPERTY = settings(max_examples=100, deadline=None)


def average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing the mean of their positions: counted pair by pair, not with scipy."""
    return np.array([(x < v).sum() + ((x == v).sum() + 1) / 2 for v in x])


def pearson(t: np.ndarray, p: np.ndarray) -> float:
    dt, dp = t - t.mean(), p - p.mean()
    denominator = np.sqrt((dt**2).sum() * (dp**2).sum())
    return float((dt * dp).sum() / denominator) if denominator > 0 else np.nan


def kendall_tau_b(t: np.ndarray, p: np.ndarray) -> float:
    """(concordant - discordant) / sqrt((pairs - pairs tied in t) (pairs - pairs tied in p)), by counting pairs."""
    i, j = np.triu_indices(len(t), k=1)
    st, sp = np.sign(t[i] - t[j]), np.sign(p[i] - p[j])
    pairs = len(i)
    denominator = np.sqrt((pairs - (st == 0).sum()) * (pairs - (sp == 0).sum()))
    return float((st * sp).sum() / denominator) if denominator > 0 else np.nan


def reference_metrics(t: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """The four metrics from their textbook formulas (at least two pairs), independent of scipy.stats."""
    return {
        "MSE": np.mean((t - p) ** 2),
        "LCC": pearson(t, p),
        "SRCC": pearson(average_ranks(t), average_ranks(p)),
        "KTAU": kendall_tau_b(t, p),
    }


def reference_system_pairs(t: np.ndarray, p: np.ndarray, systems: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ids = sorted(set(systems))
    return np.array([np.mean(t[systems == s]) for s in ids]), np.array([np.mean(p[systems == s]) for s in ids])


def values(results: pd.DataFrame, level: str, target: str = "score") -> dict[str, float]:
    rows = results[(results["level"] == level) & (results["target"] == target)]
    return dict(zip(rows["metric"], rows["value"]))


def assert_metrics_equal(actual: dict[str, float], expected: dict[str, float]) -> None:
    assert list(actual) == list(METRICS)
    for name in METRICS:
        np.testing.assert_allclose(actual[name], expected[name], rtol=0, atol=ATOL, equal_nan=True, err_msg=name)


# Scores on the challenges' grids: MusicEval means of 5 ratings (0.2 steps on 1..5),
# XACLE means of 4 ratings (0.25 steps on 0..10); few distinct values, so many ties.
musiceval_scores = st.integers(5, 25).map(lambda k: k / 5)
xacle_scores = st.integers(0, 40).map(lambda k: k / 4)


@st.composite
def rated_clips(draw, min_clips: int = 2, max_clips: int = 40):
    """Truth, prediction (same grid, so ties on both sides) and system ids of some clips."""
    grid = draw(st.sampled_from([musiceval_scores, xacle_scores]))
    n = draw(st.integers(min_clips, max_clips))
    truth = np.array(draw(st.lists(grid, min_size=n, max_size=n)))
    prediction = np.array(draw(st.lists(grid, min_size=n, max_size=n)))
    systems = np.array([f"S{k}" for k in draw(st.lists(st.integers(0, 6), min_size=n, max_size=n))])
    return truth, prediction, systems


@PROPERTY
@given(rated_clips())
def test_utterance_level_equals_the_textbook_formulas_on_tied_grids(clips):
    truth, prediction, systems = clips
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvaluationWarning)
        results = score(truth, prediction, systems=systems)
    assert_metrics_equal(values(results, "utterance"), reference_metrics(truth, prediction))


@PROPERTY
@given(rated_clips())
def test_system_level_equals_the_textbook_formulas_on_means_per_system(clips):
    truth, prediction, systems = clips
    sys_truth, sys_pred = reference_system_pairs(truth, prediction, systems)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvaluationWarning)
        results = score(truth, prediction, systems=systems)
    expected = reference_metrics(sys_truth, sys_pred) if len(sys_truth) > 1 else {"MSE": np.mean((sys_truth - sys_pred) ** 2)}
    assert_metrics_equal(values(results, "system"), {name: expected.get(name, np.nan) for name in METRICS})
    assert set(results.loc[results["level"] == "system", "n"]) == {len(sys_truth)}


@PROPERTY
@given(rated_clips(), st.sampled_from([np.exp, np.arctan, np.log1p, lambda x: x**3 - 2.0, lambda x: 3.0 * x + 7.0]))
def test_rank_metrics_are_unchanged_by_a_monotone_transform_of_predictions(clips, transform):
    truth, prediction, _ = clips
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvaluationWarning)
        before, after = values(score(truth, prediction), "utterance"), values(score(truth, transform(prediction)), "utterance")
    for name in ("SRCC", "KTAU"):
        np.testing.assert_allclose(after[name], before[name], rtol=0, atol=ATOL, equal_nan=True)


@PROPERTY
@given(rated_clips(), st.integers(-3, 3))
def test_system_rank_metrics_are_unchanged_by_scaling_predictions(clips, power):
    # Scaling by a power of two is exact, so even the system means keep their order and ties.
    truth, prediction, systems = clips
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvaluationWarning)
        before = values(score(truth, prediction, systems=systems), "system")
        after = values(score(truth, prediction * 2.0**power, systems=systems), "system")
    for name in ("SRCC", "KTAU"):
        np.testing.assert_allclose(after[name], before[name], rtol=0, atol=ATOL, equal_nan=True)


@PROPERTY
@given(rated_clips(), st.sampled_from([-1.0, -0.25, 0.5, 2.0]))
def test_mse_responds_to_a_shift_of_predictions_by_the_exact_formula(clips, shift):
    truth, prediction, _ = clips
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvaluationWarning)
        before, after = values(score(truth, prediction), "utterance")["MSE"], values(score(truth, prediction + shift), "utterance")["MSE"]
    expected = before + 2 * shift * np.mean(prediction - truth) + shift**2
    np.testing.assert_allclose(after, expected, rtol=0, atol=1e-9)


def test_monotone_transform_keeps_srcc_but_changes_mse():
    truth = np.array([1.0, 2.2, 3.4, 3.4, 4.6])
    prediction = np.array([1.2, 2.0, 3.0, 3.8, 4.0])
    plain, transformed = score(truth, prediction), score(truth, np.exp(prediction))
    assert values(plain, "utterance")["SRCC"] == values(transformed, "utterance")["SRCC"]
    assert values(transformed, "utterance")["MSE"] > 100 * values(plain, "utterance")["MSE"]


def test_nan_pairs_are_dropped_per_target_with_a_count():
    truth = pd.DataFrame({"overall": [1.0, 2.0, np.nan, 4.0, 5.0], "textual": [1.0, 2.0, 3.0, 4.0, 5.0]})
    prediction = pd.DataFrame({"overall": [1.2, 2.5, 3.0, np.nan, 4.0], "textual": [1.0, 2.5, 2.0, 4.5, 4.0]})
    with pytest.warns(EvaluationWarning, match=r"overall: dropped 2 of 5 clips .* scoring 3"):
        results = score(truth, prediction)
    kept = [0, 1, 4]
    assert_metrics_equal(values(results, "utterance", "overall"), reference_metrics(truth["overall"].to_numpy()[kept], prediction["overall"].to_numpy()[kept]))
    assert_metrics_equal(values(results, "utterance", "textual"), reference_metrics(truth["textual"].to_numpy(), prediction["textual"].to_numpy()))
    assert results.groupby("target")["n"].first().to_dict() == {"overall": 3, "textual": 5}


def test_system_means_ignore_clips_whose_pair_was_dropped():
    truth = np.array([1.0, 3.0, np.nan, 2.0, 4.0])
    prediction = np.array([1.0, 2.0, 5.0, 2.5, 3.5])
    systems = np.array(["A", "A", "A", "B", "B"])
    with pytest.warns(EvaluationWarning, match="dropped 1 of 5"):
        results = score(truth, prediction, systems=systems)
    assert values(results, "system")["MSE"] == pytest.approx(((2.0 - 1.5) ** 2 + (3.0 - 3.0) ** 2) / 2)


@pytest.mark.parametrize(
    ("truth", "prediction", "message"),
    [
        ([], [], "no pairs to score"),
        ([3.0], [2.0], "only 1 pair"),
        ([3.0, 3.0, 3.0], [1.0, 2.0, 3.0], "the truth is constant"),
        ([1.0, 2.0, 3.0], [2.5, 2.5, 2.5], "the prediction is constant"),
    ],
)
def test_degenerate_input_gives_nan_correlations_with_a_warning(truth, prediction, message):
    with pytest.warns(EvaluationWarning, match=message):
        result = values(score(np.array(truth), np.array(prediction)), "utterance")
    assert np.isnan([result["LCC"], result["SRCC"], result["KTAU"]]).all()
    expected_mse = np.mean((np.array(truth) - np.array(prediction)) ** 2) if truth else np.nan
    np.testing.assert_equal(result["MSE"], expected_mse)


def test_a_single_system_gives_nan_system_correlations_not_a_crash():
    with pytest.warns(EvaluationWarning, match="system level, score: only 1 pair"):
        results = score([1.0, 2.0, 3.0], [1.0, 2.5, 2.0], systems=["S1", "S1", "S1"])
    assert np.isnan(values(results, "system")["SRCC"])
    assert values(results, "utterance")["SRCC"] == pytest.approx(0.5)


def test_given_system_means_replace_the_means_of_clip_truths():
    truth = np.array([1.0, np.nan, 2.0, 4.0, 5.0, 3.0])
    prediction = np.array([1.0, 2.0, 2.0, 4.0, 5.0, 3.0])
    systems = np.array(["A", "A", "B", "B", "C", "D"])
    given = pd.DataFrame({"score": [1.4, 3.2, 4.9]}, index=["A", "B", "C"])
    with pytest.warns(EvaluationWarning, match="1 of 4 systems have no given true mean .*: D"), pytest.warns(EvaluationWarning, match="dropped 1 of 6"):
        results = score(truth, prediction, systems=systems, system_truth=given)
    sys_pred = np.array([1.5, 3.0, 5.0])  # A keeps its clip without a true score
    assert_metrics_equal(values(results, "system"), reference_metrics(given["score"].to_numpy(), sys_pred))


def test_one_two_dimensional_and_dataframe_inputs_agree():
    rng = np.random.default_rng(0)
    truth, prediction = rng.integers(5, 26, size=(30, 2)) / 5, rng.integers(5, 26, size=(30, 2)) / 5
    systems = rng.choice(["S1", "S2", "S3", "S4"], size=30)
    names = ["overall", "textual"]
    as_arrays = score(truth, prediction, systems=systems, targets=names)
    as_frames = score(pd.DataFrame(truth, columns=names), pd.DataFrame(prediction, columns=names), systems=systems)
    assert as_arrays.equals(as_frames)
    for column, name in enumerate(names):
        one = score(truth[:, column], prediction[:, column], systems=systems, targets=[name])
        assert one.equals(as_arrays[as_arrays["target"] == name].reset_index(drop=True))
    assert list(as_arrays.columns) == ["level", "target", "metric", "value", "n"]
    assert list(as_arrays.drop_duplicates(["level", "target"])[["level", "target"]].itertuples(index=False, name=None)) == [
        ("utterance", "overall"), ("utterance", "textual"), ("system", "overall"), ("system", "textual")
    ]


def test_system_means_are_numpy_means_in_clip_order():
    rng = np.random.default_rng(1)
    data, systems = rng.normal(size=50), rng.choice(["b", "a", "c"], size=50)
    means = system_means(data, systems)
    assert list(means.index) == ["a", "b", "c"]
    assert all(means[s] == np.mean(data[systems == s]) for s in "abc")


def test_format_line_is_sheets_grep_able_one_liner():
    results = score([1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 4.0], systems=["A", "A", "B", "B"], targets=["overall"])
    line = format_line(results)
    number = r"-?\d\.\d{3}"
    block = rf"\[ MSE = {number} \| LCC = {number} \| SRCC = {number} \| KTAU = {number} \]"
    assert re.fullmatch(rf"\[overall\] \[UTT\]{block} \[SYS\]{block}", line), line
    assert "[UTT][ MSE = 0.500 | LCC = 0.800 | SRCC = 0.800 | KTAU = 0.667 ]" in line


def test_markdown_table_has_a_row_per_level_and_target_with_three_decimals():
    results = score([1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 4.0], systems=["A", "A", "B", "B"], targets=["overall"])
    lines = markdown_table(results).splitlines()
    assert lines[0] == "| level | target | MSE | LCC | SRCC | KTAU | N |"
    assert lines[2] == "| utterance | overall | 0.500 | 0.800 | 0.800 | 0.667 | 4 |"
    assert lines[3] == "| system | overall | 0.250 | 1.000 | 1.000 | 1.000 | 2 |"
