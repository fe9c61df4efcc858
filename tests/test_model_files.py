"""Model files saved by earlier versions still load: classes under the module names they were saved with.

Before 0.2 the heads were the top-level package ``heads`` (``heads.spo``), and until the ``cosine``
head got its own module its classes lived in ``clapmos.heads.spo``. A file naming either is read
under today's names (``persistence.LEGACY_MODULES``, ``LEGACY_CLASSES``), trusted by the same rule,
and predicts exactly as the model that was saved.
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from clapmos.embed.files import file_sha256
from clapmos.heads.cosine import SpoCosineRegressor
from clapmos.heads.runs.persistence import load_model, save_model


def renamed(folder, old: str, new: str) -> None:
    """Rewrite ``folder/model.skops`` as an older clapmos wrote it: module ``old`` where today's file says ``new``."""
    path = folder / "model.skops"
    with zipfile.ZipFile(path) as archive:
        entries = {info: archive.read(info) for info in archive.infolist()}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as copy:
        for info, payload in entries.items():
            if info.filename == "schema.json":
                payload = payload.replace(f'"{new}"'.encode(), f'"{old}"'.encode())
            copy.writestr(info, payload)
    path.write_bytes(out.getvalue())
    manifest = json.loads((folder / "model.json").read_text())
    manifest["sha256"]["model.skops"] = file_sha256(path)
    (folder / "model.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("old", ["clapmos.heads.spo", "heads.spo"], ids=["cosine-in-spo", "before-0.2"])
def test_a_cosine_head_saved_under_an_old_module_loads_and_predicts_as_saved(tmp_path, old):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 8))
    y = 5 + 2 * X[:, 0] + rng.normal(size=40)
    model = SpoCosineRegressor(max_epochs=3, random_state=0).fit(X, y)
    save_model(model, tmp_path)
    renamed(tmp_path, old, "clapmos.heads.cosine")
    assert old.encode() in zipfile.ZipFile(tmp_path / "model.skops").read("schema.json")
    loaded = load_model(tmp_path, heads=["cosine"])
    assert type(loaded) is SpoCosineRegressor
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
