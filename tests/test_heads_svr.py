"""The ``svr`` head: the published preprocessing, scaled targets, and a refusal (with the expected time) on too many rows."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer, StandardScaler
from sklearn.svm import SVR

from clapmos.embed.errors import ClapmosError
from clapmos.heads import SvrRegressor, make_head
from clapmos.heads.svr import expected_fit_seconds, preflight


@pytest.fixture
def paired():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 8))
    y = np.clip(5 + 2 * X[:, 0] - X[:, 5] + 0.3 * rng.normal(size=120), 0, 10)
    return X, y


def test_the_head_is_normalizer_scaler_and_rbf_svr_with_the_published_settings():
    head = make_head("svr", target="alignment")
    assert [name for name, _ in head.steps] == ["features", "normalize", "scale", "model"]
    assert isinstance(head.named_steps["normalize"], Normalizer) and isinstance(head.named_steps["scale"], StandardScaler)
    model = head.named_steps["model"]
    assert (model.C, model.epsilon, model.gamma) == (0.5, 0.08, "scale")


def test_it_equals_scikit_learns_svr_on_the_xacle_targets(paired):
    X, y = paired
    ours = make_head("svr", blocks=("audio", "text"), target_scaling=(5, 5), epsilon=0.02).fit(X, y).predict(X)
    theirs = make_pipeline(Normalizer(), StandardScaler(), SVR(C=0.5, epsilon=0.02, gamma="scale")).fit(X, (y - 5) / 5)
    np.testing.assert_allclose(ours, 5 * theirs.predict(X) + 5, atol=1e-10)


def test_two_targets_get_one_svr_each(paired):
    X, y = paired
    model = SvrRegressor().fit(X, np.column_stack([y, 10 - y]))
    assert len(model.estimators_) == 2 and model.predict(X[:3]).shape == (3, 2)


def test_too_many_rows_are_refused_with_the_expected_time(paired):
    X, y = paired
    with pytest.raises(ValueError, match="svr on 120 training rows \\(max_rows=100\\).*expected about .*max_rows=120"):
        SvrRegressor(max_rows=100).fit(X, y)
    SvrRegressor(max_rows=None).fit(X, y)


def test_the_run_preflight_refuses_before_fitting_and_names_the_option():
    with pytest.raises(ClapmosError, match="svr on 60,000 training rows.*about 2.3 h for 5 fit\\(s\\).*--param svr.max_rows=60000"):
        preflight(n_rows=60_000, n_features=1_536, n_fits=5, params={})
    preflight(n_rows=60_000, n_features=1_536, n_fits=5, params={"max_rows": 70_000})
    assert expected_fit_seconds(20_000, 1_000) == pytest.approx(4 * expected_fit_seconds(10_000, 1_000))


@pytest.mark.parametrize(("param", "value"), [("C", 0), ("epsilon", -1), ("gamma", "wide"), ("max_rows", 0), ("target_scaling", (5, 0))])
def test_bad_settings_are_refused_by_name(paired, param, value):
    with pytest.raises(ValueError, match=f"^(The '{param}' parameter of SvrRegressor must|{param} must)"):
        SvrRegressor(**{param: value}).fit(*paired)
