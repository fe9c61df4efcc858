"""The feature store: schema, round trip, reuse rules and robustness of reading."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from clapmos.embed.errors import ClapmosError
from clapmos.embed.store import FeatureStore
from clapmos.embed.store.schema import FEATURE_CHUNK
from tests.conftest import make_corpus


def test_store_round_trips_items_labels_and_ratings(tiny_corpus, tmp_path):
    store = FeatureStore.create(tmp_path / "s.zarr", tiny_corpus)
    reopened = FeatureStore.open(tmp_path / "s.zarr")
    assert reopened.targets == ["overall", "textual"]
    assert reopened.corpus == "manifest"
    assert reopened.items().equals(tiny_corpus.items)
    np.testing.assert_allclose(reopened.labels().to_numpy(), tiny_corpus.labels.to_numpy(), rtol=1e-6)
    ratings = reopened.ratings()
    assert list(ratings.columns) == ["item", "id", "listener", "overall", "textual"]
    assert ratings["item"].tolist() == tiny_corpus.ratings["item"].tolist()
    assert (ratings["id"] == tiny_corpus.items["id"].to_numpy()[ratings["item"]]).all()
    assert len(store) == len(tiny_corpus)


def test_schema_is_the_documented_one(tiny_corpus, tmp_path):
    FeatureStore.create(tmp_path / "s.zarr", tiny_corpus)
    group = zarr.open_group(tmp_path / "s.zarr", mode="r")
    assert group.attrs["clapmos_store_version"] == 2  # 2: frame tokens may be present (tests/test_store_frames.py)
    assert set(group.attrs) >= {"corpus", "targets", "created"}
    for column in ["id", "path", "text", "system", "split"]:
        assert group[f"items/{column}"].shape == (len(tiny_corpus),)
    assert group["labels/overall"].dtype == np.float32
    assert group["ratings/item"].dtype == np.int64
    assert group["ratings/textual"].dtype == np.float32


def test_split_filters_every_table(tiny_corpus, tmp_path):
    store = FeatureStore.create(tmp_path / "s.zarr", tiny_corpus)
    dev = store.items("dev")
    assert set(dev["split"]) == {"dev"}
    assert store.labels("dev").index.equals(dev.index)
    assert set(store.ratings("dev")["item"]) == set(dev.index)
    with pytest.raises(ClapmosError, match="no split test"):
        store.items("test")


def test_existing_store_with_same_items_is_reused_and_other_items_refused(tmp_path):
    first = make_corpus(tmp_path / "a", n=6)
    FeatureStore.create(tmp_path / "s.zarr", first)
    FeatureStore.create(tmp_path / "s.zarr", first)  # same items: reopened
    other = make_corpus(tmp_path / "a", n=6)
    other.items.loc[2, "text"] = "another prompt"
    FeatureStore.open(tmp_path / "s.zarr", mode="r+").prepare_features("x", 3, 2, {"embedder": "x"})
    store = FeatureStore.open(tmp_path / "s.zarr", mode="r+")
    store.write_block("x", 0, np.ones((6, 3)), np.ones((6, 2)))
    with pytest.raises(ClapmosError, match="(?s)built from other items.*row 2.*--rebuild"):
        FeatureStore.create(tmp_path / "s.zarr", other)
    store = FeatureStore.create(tmp_path / "s.zarr", other, rebuild=True).commit()
    assert store.items()["text"][2] == "another prompt"


def test_features_of_a_missing_embedder_name_what_to_run(tiny_corpus, tmp_path):
    store = FeatureStore.create(tmp_path / "s.zarr", tiny_corpus)
    with pytest.raises(ClapmosError, match="no features of embedder 'clap'.*clapmos embed --embedder clap"):
        store.audio("clap")


def test_unfinished_rows_are_refused_with_a_hint(tiny_corpus, tmp_path):
    store = FeatureStore.create(tmp_path / "s.zarr", tiny_corpus)
    store.prepare_features("x", 3, 2, {"embedder": "x"})
    with pytest.raises(ClapmosError, match="not embedded yet.*again"):
        store.audio("x")


def test_blocks_are_chunk_aligned_and_done_is_set_after_data(tmp_path):
    corpus = make_corpus(tmp_path / "a", n=FEATURE_CHUNK + 5, seconds=0.05)
    store = FeatureStore.create(tmp_path / "s.zarr", corpus)
    store.prepare_features("x", 3, 2, {"embedder": "x"})
    assert store.pending_blocks("x") == [(0, FEATURE_CHUNK), (FEATURE_CHUNK, FEATURE_CHUNK + 5)]
    with pytest.raises(ValueError, match="aligned"):
        store.write_block("x", 1, np.zeros((3, 3)), np.zeros((3, 2)))
    store.write_block("x", FEATURE_CHUNK, np.ones((5, 3)), np.ones((5, 2)))
    assert store.pending_blocks("x") == [(0, FEATURE_CHUNK)]
    assert store.done("x").sum() == 5


def test_changed_provenance_is_refused_unless_overwrite(tiny_corpus, tmp_path):
    store = FeatureStore.create(tmp_path / "s.zarr", tiny_corpus)
    store.prepare_features("x", 3, 2, {"embedder": "x", "window_s": 10.0})
    store.prepare_features("x", 3, 2, {"embedder": "x", "window_s": 10})  # same value: accepted
    with pytest.raises(ClapmosError, match="window_s"):
        store.prepare_features("x", 3, 2, {"embedder": "x", "window_s": 5.0})
    with pytest.raises(ClapmosError, match="dims"):
        store.prepare_features("x", 4, 2, {"embedder": "x", "window_s": 10.0})
    key = store.prepare_features("x", 4, 2, {"embedder": "x", "window_s": 5.0}, overwrite=True)
    assert store.embedder_attrs("x")["window_s"] == 10.0  # the old features stay until the new ones are complete
    store.write_block(key, 0, np.ones((len(store), 4)), np.ones((len(store), 2)))
    store.finish_features("x", key)
    assert store.embedder_attrs("x")["window_s"] == 5.0 and store.embedders == ["x"]


def test_a_store_written_by_someone_else_with_the_schema_fields_is_readable(tmp_path):
    """Downstream code needs only the documented fields: no done mask, no extra attributes."""
    group = zarr.create_group(store=str(tmp_path / "foreign.zarr"), attributes={"targets": ["alignment"]})
    for column, values in {"id": ["a", "b"], "path": ["a.wav", "b.wav"], "text": ["x", "y"], "system": ["", ""], "split": ["test", "test"]}.items():
        group.create_array(f"items/{column}", shape=(2,), dtype=str)[:] = np.array(values, dtype=object)
    group.create_array("labels/alignment", shape=(2,), dtype="float32")[:] = [1.0, np.nan]
    group.create_array("features/other/audio", shape=(2, 4), dtype="float32")[:] = np.ones((2, 4))
    group.create_array("features/other/text", shape=(2, 3), dtype="float32")[:] = np.zeros((2, 3))
    store = FeatureStore.open(tmp_path / "foreign.zarr")
    assert store.embedders == ["other"]
    assert store.paired("other", "test").shape == (2, 7)
    assert store.ratings().empty
    assert np.isnan(store.labels()["alignment"][1])
    assert "other" in store.summary()


def test_opening_something_that_is_not_a_store_is_a_clear_error(tmp_path):
    with pytest.raises(ClapmosError, match="nothing.*clapmos embed"):
        FeatureStore.open(tmp_path / "nothing.zarr")
    zarr.create_group(store=str(tmp_path / "empty.zarr"))
    with pytest.raises(ClapmosError, match="not a clapmos store.*items/id"):
        FeatureStore.open(tmp_path / "empty.zarr")


def test_labels_and_ratings_read_back_as_the_published_decimals(tiny_corpus, tmp_path):
    """Stored as float32 (the schema), read as float64 with the decimals people published."""
    tiny_corpus.labels.loc[0, "overall"] = 4.8
    tiny_corpus.ratings.loc[0, "textual"] = 2.2
    store = FeatureStore.create(tmp_path / "s.zarr", tiny_corpus)
    assert store.labels()["overall"][0] == 4.8 and store.labels()["overall"].dtype == np.float64
    assert store.ratings()["textual"][0] == 2.2
