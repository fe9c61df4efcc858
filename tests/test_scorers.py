"""The scikit-learn scorers give the numbers of `score`, with system ids routed as metadata."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, KFold, cross_validate

from clapmos.evaluation import SCORERS, EvaluationWarning, make_clapmos_scorer, score


@pytest.fixture
def rated_features():
    """Features, two MOS-like targets on the 0.2 grid and a system id per clip."""
    rng = np.random.default_rng(0)
    n = 90
    systems = np.repeat([f"S{i:02d}" for i in range(18)], 5)
    X = rng.normal(size=(n, 4)) + np.repeat(rng.normal(size=(18, 4)), 5, axis=0)
    raw = X @ np.array([[0.8, 0.3], [0.4, -0.2], [0.0, 0.5], [0.1, 0.0]]) + rng.normal(scale=0.5, size=(n, 2))
    y = np.clip(np.round((3 + raw) * 5) / 5, 1, 5)
    return X, y, systems


def fold_scores(X, y, systems, cv, metric, level, target):
    """`score` on each test fold of a Ridge fitted on the rest: what the scorer must return."""
    found = []
    for train, test in cv.split(X):
        prediction = Ridge().fit(X[train], y[train]).predict(X[test])
        results = score(y[test], prediction, systems=systems[test])
        rows = results[(results["level"] == level) & (results["metric"] == metric)]
        found.append(rows["value"].to_numpy()[target] if target is not None else rows["value"].mean())
    return np.array(found)


@pytest.mark.parametrize(("metric", "level"), [("SRCC", "system"), ("KTAU", "system"), ("LCC", "utterance"), ("MSE", "system")])
@pytest.mark.parametrize("target", [None, 1])
def test_cross_validate_with_routed_systems_equals_score_on_each_fold(rated_features, metric, level, target):
    X, y, systems = rated_features
    cv = KFold(3, shuffle=True, random_state=0)
    scorer = make_clapmos_scorer(metric, level, target=target)
    with sklearn.config_context(enable_metadata_routing=True):
        # utterance-level scorers do not request system ids, and scikit-learn refuses unrouted metadata
        params = {"systems": systems} if level == "system" else None
        result = cross_validate(Ridge(), X, y, cv=cv, scoring=scorer, params=params)
    sign = -1 if metric == "MSE" else 1
    np.testing.assert_allclose(result["test_score"], sign * fold_scores(X, y, systems, cv, metric, level, target), rtol=0, atol=1e-12)


def test_utterance_and_system_scorers_share_one_scoring_dict(rated_features):
    X, y, systems = rated_features
    cv = KFold(3, shuffle=True, random_state=1)
    scoring = {name: SCORERS[name] for name in ("utterance_srcc", "system_srcc", "neg_system_mse")}
    with sklearn.config_context(enable_metadata_routing=True):
        result = cross_validate(Ridge(), X, y, cv=cv, scoring=scoring, params={"systems": systems})
    np.testing.assert_allclose(result["test_utterance_srcc"], fold_scores(X, y, systems, cv, "SRCC", "utterance", None), atol=1e-12)
    np.testing.assert_allclose(result["test_system_srcc"], fold_scores(X, y, systems, cv, "SRCC", "system", None), atol=1e-12)
    np.testing.assert_allclose(result["test_neg_system_mse"], -fold_scores(X, y, systems, cv, "MSE", "system", None), atol=1e-12)


def test_grid_search_selects_on_system_srcc_with_routed_systems(rated_features):
    X, y, systems = rated_features
    cv = KFold(3, shuffle=True, random_state=2)
    alphas = [0.01, 10.0, 1e5]
    search = GridSearchCV(Ridge(), {"alpha": alphas}, scoring=SCORERS["system_srcc"], cv=cv)
    with sklearn.config_context(enable_metadata_routing=True):
        search.fit(X, y, systems=systems)
    expected = []
    for alpha in alphas:
        folds = []
        for train, test in cv.split(X):
            prediction = Ridge(alpha=alpha).fit(X[train], y[train]).predict(X[test])
            results = score(y[test], prediction, systems=systems[test])
            folds.append(results.query("level == 'system' and metric == 'SRCC'")["value"].mean())
        expected.append(np.mean(folds))
    np.testing.assert_allclose(search.cv_results_["mean_test_score"], expected, rtol=0, atol=1e-12)
    assert search.best_params_ == {"alpha": alphas[int(np.argmax(expected))]}


def test_scorer_reads_targets_by_name_from_dataframes(rated_features):
    X, y, systems = rated_features
    frame = pd.DataFrame(y, columns=["overall", "textual"])
    model = Ridge().fit(X, frame)
    with sklearn.config_context(enable_metadata_routing=True):
        value = make_clapmos_scorer("SRCC", "system", target="textual")(model, X, frame, systems=systems)
    expected = score(frame, model.predict(X), systems=systems).query("level == 'system' and target == 'textual' and metric == 'SRCC'")
    assert value == expected["value"].item()


def test_system_scorer_without_systems_fails_with_the_routing_hint(rated_features):
    X, y, _ = rated_features
    model = Ridge().fit(X, y)
    with pytest.raises(Exception, match="enable metadata routing"):
        SCORERS["system_srcc"](model, X, y)


def test_scorers_exist_for_every_metric_and_level_and_mse_is_negated():
    assert set(SCORERS) == {
        f"{'neg_' if m == 'mse' else ''}{level}_{m}" for level in ("utterance", "system") for m in ("mse", "lcc", "srcc", "ktau")
    }
    X, y = np.zeros((4, 1)), np.array([1.0, 2.0, 3.0, 4.0])
    constant = DummyRegressor(strategy="constant", constant=3.0).fit(X, y)
    with pytest.warns(EvaluationWarning, match="prediction is constant"):  # for the correlations
        assert SCORERS["neg_utterance_mse"](constant, X, y) == -np.mean((y - 3.0) ** 2)
