"""Audio-only embedders (``text_dim = 0``) in the store: no text array, and every reader that needs text says so."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from clapmos import cli
from clapmos.embed.backends.spectral import SpectralEmbedder
from clapmos.embed.errors import ClapmosError
from clapmos.embed.engines.runner import embed_corpus
from clapmos.embed.store import FeatureStore
from tests.conftest import make_corpus


class SpectralAudioOnly(SpectralEmbedder):
    """``spectral``'s audio features, no text tower."""

    name = "spectral-audio"
    text_dim = 0
    embed_text = SpectralEmbedder.__mro__[1].embed_text  # the base class's: refuses


@pytest.fixture
def store(tmp_path) -> FeatureStore:
    store = FeatureStore.create(tmp_path / "s.zarr", make_corpus(tmp_path / "audio", n=6))
    embed_corpus(store, SpectralAudioOnly(), progress=False)
    return FeatureStore.open(tmp_path / "s.zarr")


def test_audio_only_features_have_no_text_array_and_record_text_dim_0(store, tmp_path):
    group = store.group["features/spectral-audio"]
    assert sorted(group.array_keys()) == ["audio", "done"]
    assert group.attrs["text_dim"] == 0 and not store.has_text("spectral-audio")
    reference = FeatureStore.create(tmp_path / "r.zarr", make_corpus(tmp_path / "audio", n=6))
    embed_corpus(reference, "spectral", progress=False)
    np.testing.assert_array_equal(store.audio("spectral-audio"), reference.audio("spectral"))
    assert reference.has_text("spectral")


@pytest.mark.parametrize("read", [FeatureStore.text, FeatureStore.paired])
def test_reading_text_of_an_audio_only_embedder_says_how_to_get_text(store, read):
    with pytest.raises(ClapmosError, match=r"(?s)'spectral-audio' is audio-only.*--embedder spectral-audio,clap"):
        read(store, "spectral-audio", "train")


def test_write_block_takes_no_text_for_an_audio_only_embedder(store):
    with pytest.raises(ValueError, match="text is given"):
        store.write_block("spectral-audio", 0, np.zeros((6, 128)), np.zeros((6, 3)))


def test_an_audio_only_group_is_stale_for_a_text_capable_run_of_the_same_name(store):
    with pytest.raises(ClapmosError, match="dims: store has '128/0', this run '128/128'"):
        store.prepare_features("spectral-audio", 128, 128, {"embedder": "spectral-audio"})
    store.prepare_features("spectral-audio", 128, 0, dict(store.embedder_attrs("spectral-audio")))  # same: reused
    assert store.done("spectral-audio").all()


def test_info_and_score_zero_shot_on_an_audio_only_embedder(store):
    runner = CliRunner()
    info = runner.invoke(cli.app, ["info", str(store.path)])
    assert info.exit_code == 0 and "spectral-audio: audio 128-d, no text (audio-only)" in info.output
    zero_shot = runner.invoke(cli.app, ["score-zero-shot", "--store", str(store.path), "--embedder", "spectral-audio"])
    assert zero_shot.exit_code == 2 and "audio-only" in zero_shot.output and "Traceback" not in zero_shot.output
