"""A store's chunks carry checksums: a damaged chunk in any array is named, never used (issue 19, item 2).

``embed`` seals each row's vectors and frame tokens where it writes them (``features/<e>/check``,
``frames/check``) and each table column's chunks (their ``checksums`` attribute). Every array
of a store with frame tokens is damaged here in turn (its first chunk deleted, truncated or
overwritten with random bytes): reading the store then raises one ``ClapmosError`` naming the
damaged clips (or, for a table column, the column and its rows) and what to do; running the
same ``embed`` again gives back the fresh store's numbers, except when the item table itself is
damaged (a new store is then the advice). ``fit`` exits 2 with the message.
"""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from clapmos import cli
from clapmos.embed.corpora import read_corpus
from clapmos.embed.engines.runner import embed_corpus
from clapmos.embed.errors import ClapmosError
from clapmos.embed.store import FeatureStore


def invoke(*args):
    return CliRunner().invoke(cli.app, [str(a) for a in args])


def read_everything(path) -> dict:
    """What ``fit``, ``predict`` and ``evaluate`` read from a store: tables, vectors, frame tokens."""
    store = FeatureStore.open(path)
    frames = store.frames("spectral")
    return {"items": store.items(), "labels": store.labels(), "ratings": store.ratings(),
            "audio": store.audio("spectral"), "text": store.text("spectral"),
            "tokens": frames.values, "offsets": frames.offsets, "times": frames.times}


def assert_same(read: dict, fresh: dict) -> None:
    for name, value in fresh.items():
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(read[name], value)
        else:
            np.testing.assert_array_equal(read[name], value)


@pytest.fixture(scope="module")
def sealed_store(tmp_path_factory):
    """A demo store of 24 clips with spectral vectors and frame tokens; the arrays holding data, and what it reads."""
    from clapmos.embed.corpora.demo import make_demo_corpus

    folder = tmp_path_factory.mktemp("sealed")
    make_demo_corpus(folder / "corpus", n_clips=24, seed=5)
    store = folder / "store.zarr"
    result = invoke("embed", "--corpus", "musiceval", "--root", folder / "corpus", "--embedder", "spectral", "--frames", "--out", store)
    assert result.exit_code == 0, result.output
    arrays = sorted(str(p.parent.relative_to(store)) for p in store.rglob("zarr.json")
                    if json.loads(p.read_text())["node_type"] == "array" and any((p.parent / "c").rglob("*")))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a store written now is sealed: no "carry no checksums" warning
        fresh = read_everything(store)
    return folder, store, arrays, fresh


STORE_ARRAYS = [
    "features/spectral/audio", "features/spectral/check/audio", "features/spectral/check/text", "features/spectral/done",
    "features/spectral/frames/check", "features/spectral/frames/done", "features/spectral/frames/length",
    "features/spectral/frames/start", "features/spectral/frames/time", "features/spectral/frames/values", "features/spectral/text",
    "items/id", "items/path", "items/split", "items/system", "items/text",
    "labels/overall", "labels/textual", "ratings/item", "ratings/listener", "ratings/overall", "ratings/textual",
]


def test_the_damaged_arrays_are_every_array_of_the_store(sealed_store):
    _, _, arrays, _ = sealed_store
    assert arrays == sorted(STORE_ARRAYS)


def damage(chunk, how: str) -> None:
    if how == "deleted":
        chunk.unlink()
    elif how == "truncated":
        chunk.write_bytes(chunk.read_bytes()[: max(1, chunk.stat().st_size // 2)])
    else:
        chunk.write_bytes(np.random.default_rng(0).bytes(max(chunk.stat().st_size, 16)))


@pytest.mark.parametrize("how", ["deleted", "truncated", "garbage"])
@pytest.mark.parametrize("array", STORE_ARRAYS)
def test_a_damaged_chunk_is_named_and_embed_again_restores_the_numbers(sealed_store, tmp_path, array, how):
    folder, store, _, fresh = sealed_store
    copy = tmp_path / "store.zarr"
    shutil.copytree(store, copy)
    damage(sorted(p for p in (copy / array / "c").rglob("*") if p.is_file())[0], how)
    with pytest.raises(ClapmosError) as refused:
        read_everything(copy)
    message = str(refused.value)
    if array.startswith(("items/", "labels/", "ratings/")):
        assert f"{array} is damaged" in message and "rows 0-" in message, message
    else:  # clips of the damaged chunk (the store's only block of rows), by id and path
        assert any(f"{r.id}: {r.path}" in message for r in fresh["items"].itertuples()) and "clapmos embed" in message, message
    if array.startswith("items/"):
        assert "new store" in message
        return
    corpus = read_corpus("musiceval", folder / "corpus")
    repaired = FeatureStore.create(copy, corpus)  # what `embed` does first: the labels and ratings are written again
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        embed_corpus(repaired, "spectral", frames=True, progress=False)
    assert_same(read_everything(copy), fresh)


@pytest.mark.parametrize("array", ["features/spectral/audio", "features/spectral/done", "features/spectral/frames/values", "items/id"])
def test_a_chunk_that_decodes_to_the_wrong_size_is_damage_too(sealed_store, tmp_path, array):
    from numcodecs import Zstd

    _, store, _, _ = sealed_store
    copy = tmp_path / "store.zarr"
    shutil.copytree(store, copy)
    sorted(p for p in (copy / array / "c").rglob("*") if p.is_file())[0].write_bytes(Zstd().encode(b"\x01" * 7))  # a valid frame, 7 bytes
    with pytest.raises(ClapmosError, match="damaged"):
        read_everything(copy)


def test_a_bug_while_reading_is_raised_as_it_is_never_reported_as_damage():
    from clapmos.embed.store import seals

    def broken(rows):
        raise AttributeError("a bug, not a damaged chunk")

    with pytest.raises(AttributeError, match="a bug"):
        seals.checked(np.arange(8), 4, broken)
    assert seals.checked(np.arange(8), 4, lambda rows: (_ for _ in ()).throw(RuntimeError("Zstd decompression error"))).tolist() == list(range(8))


def test_fit_on_a_damaged_store_exits_2_naming_the_clips_and_embed_repairs_it(sealed_store, tmp_path):
    folder, store, _, fresh = sealed_store
    copy = tmp_path / "store.zarr"
    shutil.copytree(store, copy)
    sorted((copy / "features/spectral/audio/c").rglob("*"))[-1].unlink()
    fit = ["fit", "--store", copy, "--embedder", "spectral", "--head", "ridge", "--cv", "2", "--no-plots", "--out"]
    result = invoke(*fit, tmp_path / "run")
    first = fresh["items"].iloc[0]
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "are damaged" in result.output and str(first.path) in result.output and not (tmp_path / "run").exists()
    result = invoke("embed", "--corpus", "musiceval", "--root", folder / "corpus", "--embedder", "spectral", "--frames", "--out", copy)
    assert result.exit_code == 0 and "did not read back as written" in result.output and str(first.path) in result.output, result.output
    assert invoke(*fit, tmp_path / "run").exit_code == 0


def test_a_store_written_before_checksums_is_read_with_a_warning_that_says_how_to_seal_it(sealed_store, tmp_path):
    _, store, _, fresh = sealed_store
    copy = tmp_path / "store.zarr"
    shutil.copytree(store, copy)
    shutil.rmtree(copy / "features/spectral/check")
    shutil.rmtree(copy / "features/spectral/frames/check")
    for meta in copy.rglob("zarr.json"):  # and the table columns' checksums
        node = json.loads(meta.read_text())
        if node.get("attributes", {}).pop("checksums", None) is not None:
            meta.write_text(json.dumps(node))
    with pytest.warns(UserWarning, match=r"carry no checksums.*--overwrite"):
        assert_same(read_everything(copy), fresh)
