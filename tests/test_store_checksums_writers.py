"""The write paths of a store read its ``done`` flags (and vectors) checked, never a traceback (issue 19, item 2).

A store of 70 clips (two chunks of rows) has its first chunk (rows 0-63) of an array deleted,
truncated or overwritten with random bytes (``damage`` of ``tests/test_store_checksums.py``):

* ``embed --rebuild`` carries over the rows that read back as written, exactly, and embeds the
  damaged ones again (a warning names them); the rebuilt store equals a fresh embed;
* a damaged ``done`` chunk of the features an ``--overwrite`` built stops the swap with a message
  naming the clips (the old features are kept); the same command run again writes them and swaps;
* ``info`` exits 0 and says which rows' ``done`` flags are damaged (of the features, of an
  ``--overwrite`` in progress, or of the frame tokens: their ``done`` flags or lengths).

A deleted ``done`` chunk reads as "not written": those rows are embedded again without a warning.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clapmos.embed.backends.spectral import SpectralEmbedder
from clapmos.embed.corpora import read_corpus
from clapmos.embed.engines.runner import embed_corpus
from clapmos.embed.store import FeatureStore
from clapmos.embed.store.schema import FEATURE_CHUNK
from tests.layouts import write_wav
from tests.test_store_checksums import damage, invoke, sealed_store  # noqa: F401 - sealed_store: a store with frame tokens

HOWS = ["deleted", "truncated", "garbage"]
NAMES = [f"c{k:03d}" for k in range(FEATURE_CHUNK + 6)]
DROPPED = FEATURE_CHUNK + 2  # the clip the changed corpus leaves out (in the second chunk of rows)


class CountingSpectral(SpectralEmbedder):
    """The spectral embedder, counting the blocks of rows it embeds (one batch holds a whole block)."""

    def __init__(self, **options):
        super().__init__(batch_size=10_000, **options)
        self.blocks = 0

    def embed_audio(self, windows):
        self.blocks += 1
        return super().embed_audio(windows)


def write_manifest(folder: Path, names: list[str], name: str = "manifest.csv") -> Path:
    """A manifest of one short tone per name (audio under ``folder/audio``); returns its path."""
    rows = []
    for k, clip in enumerate(NAMES):
        if clip in names:
            write_wav(folder / "audio" / f"{clip}.wav", seconds=0.05, freq=200.0 + 15 * k)
            rows.append({"path": f"audio/{clip}.wav", "text": f"tone {clip}", "system": f"S{k % 3}", "mos": 1 + k % 5})
    pd.DataFrame(rows).to_csv(folder / name, index=False)
    return folder / name


def embed_args(manifest: Path, out: Path, *extra) -> list:
    return ["embed", "--corpus", "manifest", "--root", manifest, "--embedder", "spectral", "--out", out, *extra]


def first_chunk(array: Path) -> Path:
    """The file of the first chunk (rows 0-63) of the zarr array in folder ``array``."""
    return sorted(p for p in (array / "c").rglob("*") if p.is_file())[0]


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """The corpus, the changed corpus (one clip left out), the store; the stored vectors and two fresh embeds to compare with."""
    folder = tmp_path_factory.mktemp("writers")
    manifest = write_manifest(folder / "corpus", NAMES)
    changed = write_manifest(folder / "corpus", [n for k, n in enumerate(NAMES) if k != DROPPED], "changed.csv")
    store = folder / "store.zarr"
    for out, extra in ((store, ()), (folder / "short.zarr", ("--window-s", "0.02"))):
        result = invoke(*embed_args(manifest, out, *extra))
        assert result.exit_code == 0, result.output
    result = invoke(*embed_args(changed, folder / "changed.zarr"))
    assert result.exit_code == 0, result.output
    fresh = {name: FeatureStore.open(folder / f"{name}.zarr").paired("spectral") for name in ("store", "short", "changed")}
    items = FeatureStore.open(store).items()
    return manifest, changed, store, fresh, items


def copied(store: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "store.zarr"
    shutil.copytree(store, copy)
    return copy


def named(text: str, items: pd.DataFrame, rows) -> bool:
    return all(f"{r.id}: {r.path}" in text for r in items.iloc[list(rows)].itertuples())


# --------------------------------------------------------------------------- embed --rebuild
@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("array", ["done", "audio", "text", "check/audio"])
def test_rebuild_carries_the_intact_rows_exactly_and_embeds_the_damaged_ones_again(embedded, tmp_path, array, how):
    manifest, changed, store, fresh, items = embedded
    copy = copied(store, tmp_path)
    damage(first_chunk(copy / "features/spectral" / array), how)
    counting = CountingSpectral()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rebuilt = FeatureStore.create(copy, read_corpus("manifest", changed), rebuild=True)
        embed_corpus(rebuilt, counting, progress=False)
        rebuilt.commit()
    told = "\n".join(str(w.message) for w in caught)
    assert counting.blocks == 1  # rows 0-63 (the damaged chunk's clips) embedded again; rows 64-68 carried over
    if array != "done" or how != "deleted":  # a deleted done chunk reads as "not written yet": nothing to warn of
        assert f"{FEATURE_CHUNK} clip(s) of spectral are damaged" in told and "does not carry them over" in told, told
        assert named(told, items, range(20)) and f"{items.id[FEATURE_CHUNK]}:" not in told
    after = FeatureStore.open(copy).paired("spectral")
    kept = np.flatnonzero(np.arange(len(NAMES)) != DROPPED)
    np.testing.assert_array_equal(after[FEATURE_CHUNK:], fresh["store"][kept[FEATURE_CHUNK:]])  # the old store's vectors
    np.testing.assert_array_equal(after, fresh["changed"])  # and the damaged rows as a fresh embed gives them


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("array", ["done", "audio"])
def test_embed_rebuild_on_a_damaged_store_exits_0_naming_the_clips_it_embeds_again(embedded, tmp_path, array, how):
    manifest, changed, store, fresh, items = embedded
    copy = copied(store, tmp_path)
    damage(first_chunk(copy / "features/spectral" / array), how)
    result = invoke(*embed_args(changed, copy, "--rebuild"))
    assert result.exit_code == 0, (result.output, result.exception)
    if array != "done" or how != "deleted":
        assert "does not carry them over" in result.output and named(result.output, items, [0]), result.output
    np.testing.assert_array_equal(FeatureStore.open(copy).paired("spectral"), fresh["changed"])


# --------------------------------------------------------------------------- embed --overwrite
@pytest.mark.parametrize("how", HOWS)
def test_a_damaged_done_chunk_of_overwritten_features_stops_the_swap_and_the_same_command_repairs_it(embedded, tmp_path, monkeypatch, how):
    manifest, _, store, fresh, items = embedded
    copy = copied(store, tmp_path)
    finish = FeatureStore.finish_features

    def damaged_then_finished(self, embedder, key):  # the new done flags damaged after the last row was written
        damage(first_chunk(Path(self.path) / "features" / key / "done"), how)
        return finish(self, embedder, key)

    monkeypatch.setattr(FeatureStore, "finish_features", damaged_then_finished)
    overwrite = embed_args(manifest, copy, "--overwrite", "--window-s", "0.02")
    result = invoke(*overwrite)
    assert result.exit_code == 2, (result.output, result.exception)
    assert named(result.output, items, [0]) and "same" in result.output and "command again" in result.output, result.output
    if how != "deleted":
        assert "done flags of the new features" in result.output and "are damaged" in result.output, result.output
    np.testing.assert_array_equal(FeatureStore.open(copy).paired("spectral"), fresh["store"])  # the old features are kept
    monkeypatch.undo()

    info = invoke("info", copy)
    assert info.exit_code == 0, (info.output, info.exception)
    progress = f"replacement of spectral (--overwrite) in progress: {len(NAMES) - FEATURE_CHUNK}/{len(NAMES)} rows"
    assert progress in info.output, info.output
    assert ("done flags damaged in rows 0-63" in info.output) == (how != "deleted"), info.output

    result = invoke(*overwrite)
    assert result.exit_code == 0, (result.output, result.exception)
    store_after = FeatureStore.open(copy)
    assert store_after.embedder_attrs("spectral")["window_s"] == 0.02 and store_after.done("spectral").all()
    np.testing.assert_array_equal(store_after.paired("spectral"), fresh["short"])


@pytest.mark.parametrize("how", HOWS)
def test_the_rows_of_a_damaged_done_chunk_are_pending_again(embedded, tmp_path, how):
    _, _, store, _, _ = embedded
    opened = FeatureStore.open(copied(store, tmp_path), mode="r+")
    _, audio_dim, text_dim = opened.layout("spectral")[0]
    key = opened.prepare_features("spectral", audio_dim, text_dim, {"embedder": "spectral", "window_s": 0.5}, overwrite=True)
    for start, stop in opened.pending_blocks(key):
        opened.write_block(key, start, np.ones((stop - start, audio_dim)), np.ones((stop - start, text_dim)))
    assert opened.pending_blocks(key) == []
    damage(first_chunk(Path(opened.path) / "features" / key / "done"), how)
    assert opened.pending_blocks(key) == [(0, FEATURE_CHUNK)]  # what `embed` writes again (the resume path)


# --------------------------------------------------------------------------- info
@pytest.mark.parametrize("how", HOWS)
def test_info_on_a_damaged_done_chunk_exits_0_and_says_which_rows(embedded, tmp_path, how):
    _, _, store, _, _ = embedded
    copy = copied(store, tmp_path)
    damage(first_chunk(copy / "features/spectral/done"), how)
    info = invoke("info", copy)
    assert info.exit_code == 0, (info.output, info.exception)
    assert f"{len(NAMES) - FEATURE_CHUNK}/{len(NAMES)} rows done" in info.output, info.output
    assert ("done flags damaged in rows 0-63; the same embed command embeds them again" in info.output) == (how != "deleted"), info.output


@pytest.mark.parametrize("array", ["frames/done", "frames/length"])
def test_info_on_damaged_frame_flags_exits_0_and_says_which_rows(sealed_store, tmp_path, array):  # noqa: F811 - the imported fixture
    _, store, _, fresh = sealed_store
    copy = copied(store, tmp_path)
    damage(first_chunk(copy / "features/spectral" / array), "garbage")
    info = invoke("info", copy)
    n = len(fresh["items"])  # one chunk of rows
    assert info.exit_code == 0, (info.output, info.exception)
    assert "frames     spectral:" in info.output and f"lengths damaged in rows 0-{n - 1}" in info.output, info.output
