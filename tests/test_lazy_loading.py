"""Loading a run imports only what its heads need: a ridge run costs neither torch nor LightGBM,
and predicts from its arrays without scikit-learn, skops or scipy.

Every check runs in a fresh interpreter (``sys.modules`` of this one already holds torch), which
loads the run, predicts with it, scores cached clips through a :class:`Predictor`, and prints
the heavy modules it imported.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from clapmos.embed.errors import ClapmosError
from clapmos.embed.ownership import record_folder
from clapmos.heads.runs.persistence import load_model, save_model, trusted_types
from clapmos.heads.runs.run import RunConfig, fit_run, load_run, save_run

HEAVY = ("torch", "lightgbm", "safetensors.torch")
SCIKIT = ("sklearn", "skops", "scipy")  # a ridge run scores from its arrays (clapmos.heads.runs.linear_form)

CHILD = """
import json, sys
from clapmos.embed.store import FeatureStore
from clapmos.evaluation.predictor import Predictor
from clapmos.heads.runs.fitted import load_run
run = load_run({run!r})
predicted = run.predict(FeatureStore.open({store!r}))
scikit = [m for m in {scikit!r} if m in sys.modules]  # before scoring: the spectral embedder itself uses scikit-learn
scored = Predictor.from_run({run!r}, cache={cache!r}).score([{audio!r}])
print(json.dumps({{"heavy": [m for m in {heavy!r} if m in sys.modules], "scikit": scikit, "predicted": predicted["overall"].tolist(),
                  "scored": len(scored)}}))
"""


@pytest.fixture(scope="module")
def store(spectral_store):
    return spectral_store


def fitted(store, heads, folder):
    run = fit_run(store, RunConfig(embedders=["spectral"], heads=heads, cv=2, targets=["overall"], params={"lgbm.n_estimators": 5}))
    save_run(run, folder / "run")
    return run


def load_in_fresh_process(store, folder) -> dict:
    code = CHILD.format(run=str(folder / "run"), store=str(store.path), cache=str(folder / "cache"),
                        audio=str(store.items()["path"].iloc[0]), heavy=HEAVY, scikit=SCIKIT)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_loading_and_scoring_with_a_ridge_run_imports_neither_torch_nor_lightgbm_nor_scikit_learn(store, tmp_path):
    run = fitted(store, ["ridge"], tmp_path)
    child = load_in_fresh_process(store, tmp_path)
    assert child["heavy"] == [] and child["scikit"] == []
    assert child["scored"] == 1
    np.testing.assert_array_equal(child["predicted"], run.predict(store)["overall"].to_numpy())


def test_a_run_with_lightgbm_imports_lightgbm_and_not_torch(store, tmp_path):
    run = fitted(store, ["ridge", "lgbm"], tmp_path)
    child = load_in_fresh_process(store, tmp_path)
    assert child["heavy"] == ["lightgbm"] and "sklearn" in child["scikit"]
    np.testing.assert_array_equal(child["predicted"], run.predict(store)["overall"].to_numpy())


def test_trusted_types_are_those_of_the_heads_a_run_holds():
    ridge = set(trusted_types(["ridge"]))
    assert ridge < set(trusted_types(["ridge", "lgbm"])) <= set(trusted_types())
    assert "lightgbm.sklearn.LGBMRegressor" not in ridge
    assert set(trusted_types(["svr:a", "svr:b"])) == set(trusted_types(["svr"]))


def test_a_model_holding_a_type_of_a_head_the_run_does_not_list_is_refused(store, tmp_path):
    """A LightGBM model read as a ridge model: LGBMRegressor is not trusted for it, whatever its hashes say."""
    lgbm = fitted(store, ["lgbm"], tmp_path).models["overall"]
    save_model(lgbm, tmp_path / "m")
    assert load_model(tmp_path / "m", heads=["lgbm"]) is not None
    with pytest.raises(ClapmosError, match="types clapmos does not trust: .*LGBMRegressor"):
        load_model(tmp_path / "m", heads=["ridge"])
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    (tmp_path / "run" / "config.json").write_text(json.dumps({**config, "heads": ["ridge"]}))  # a run that lies about its heads
    record_folder(tmp_path / "run", "run")  # ...with its record rewritten to match: the trusted types still refuse it
    with pytest.raises(ClapmosError, match="does not trust"):
        load_run(tmp_path / "run")
