"""The --pretrain-store guard: the pretraining pairs must be embedded like the rated store, and what it shares with it is recorded.

A pretrain store whose embedder was run with other settings (here the spectral window), or
that gives other blocks (audio width, text or none), is refused before any work with a message
naming both stores. A pretrain store that holds the evaluation clips themselves is allowed (a
pseudo-label is the clip's own audio-text cosine: no rating reaches training); how many of its
pairs are clips of each split of the run is recorded in ``provenance.json``.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from clapmos import cli
from clapmos.embed.corpora.demo import make_demo_corpus
from clapmos.embed.errors import ClapmosError
from clapmos.embed.store import FeatureStore
from clapmos.heads.runs.run import load_run
from clapmos.heads.runs.store_match import check_same_features

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def invoke(*args):
    return CliRunner().invoke(cli.app, [str(a) for a in args])


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("guard")
    make_demo_corpus(root / "corpus", n_clips=24, seed=3)
    for name, extra in (("rated", []), ("wide", ["--window-s", "5"])):
        result = invoke("embed", "--corpus", "musiceval", "--root", root / "corpus", "--embedder", "spectral", *extra, "--out", root / f"{name}.zarr")
        assert result.exit_code == 0, result.output
    return root


def fit(root, out, pretrain, *extra):
    return invoke("fit", "--store", root / "rated.zarr", "--embedder", "spectral", "--head", "mlp", "--cv", 2, "--target", "overall",
                  "--param", "max_epochs=2", "--no-plots", "--draws", 0, "--pretrain-store", pretrain, *extra, "--out", out)


def test_a_pretrain_store_embedded_with_other_settings_is_refused_naming_both_stores(stores):
    result = fit(stores, stores / "refused", stores / "wide.zarr")
    message = " ".join(result.output.split())
    assert result.exit_code != 0
    assert f"--pretrain-store {stores / 'wide.zarr'}: its 'spectral' features were made differently from those of --store {stores / 'rated.zarr'}" in message
    assert "window_s: 10.0 in" in message and "5.0 in" in message
    assert not (stores / "refused").exists()


class Store:
    """What the guard reads of a store: its path, embedders, blocks and the embedder's attributes."""

    def __init__(self, path, audio, text):
        self.path, self.embedders, self.dims = path, ["clap"], (audio, text)

    def layout(self, names):
        return tuple((name, *self.dims) for name in names)

    def embedder_attrs(self, name):
        return {"embedder": "clap"}


@pytest.mark.parametrize(("dims", "said"), [((512, 0), "audio 512 + no text"), ((768, 512), "audio 768 + text 512")])
def test_other_blocks_are_refused_naming_both_stores(dims, said):
    with pytest.raises(ClapmosError) as refused:
        check_same_features(Store("a.zarr", 512, 512), Store("b.zarr", *dims), ["clap"], "--store", "--pretrain-store")
    assert str(refused.value).startswith(f"--pretrain-store b.zarr: its 'clap' features are {said}, those of --store a.zarr audio 512 + text 512;")


def test_a_missing_embedder_is_refused_naming_both_stores():
    with pytest.raises(ClapmosError, match="--pretrain-store b.zarr has no 'm2d' features, which the run reads from --store a.zarr"):
        check_same_features(Store("a.zarr", 512, 512), Store("b.zarr", 512, 512), ["m2d"], "--store", "--pretrain-store")


def test_pretraining_on_the_evaluation_clips_is_allowed_and_recorded(stores):
    result = fit(stores, stores / "same", stores / "rated.zarr", "--eval-split", "dev")
    assert result.exit_code == 0, result.output
    store = FeatureStore.open(stores / "rated.zarr")
    shared = load_run(stores / "same").provenance["pretrain"]["clips_shared"]
    assert shared == {"train": len(store.rows("train")), "dev": len(store.rows("dev"))}
