"""Runs that travel: `fit` writes a model card, a run loads from a Hugging Face Hub cache (offline) with the same
checks as a local one, and `clapmos push` uploads it (tested up to the network: the Hub client's calls are recorded)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import huggingface_hub
import pandas as pd
import pytest
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from clapmos import cli
from clapmos.embed.engines.runner import embed_corpus
from clapmos.embed.errors import ClapmosError
from clapmos.embed.store import FeatureStore
from clapmos.evaluation.pipeline import fit_and_report
from clapmos.evaluation.predictor import Predictor
from clapmos.heads.runs.hub import run_folder
from clapmos.heads.runs.model_card import model_card, write_model_card
from clapmos.heads.runs.run import RunConfig
from tests.conftest import make_corpus

REPO = "clapmos-test/tiny-ridge"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A ridge run fitted by `fit` (reports, held-out split, model card) and clips to score."""
    folder = tmp_path_factory.mktemp("hub")
    corpus = make_corpus(folder / "audio", n=30, seconds=0.2, sample_rate=16000)
    store = FeatureStore.create(folder / "s.zarr", corpus)
    embed_corpus(store, "spectral", progress=False)
    fit_and_report(store, RunConfig(embedders=["spectral"], heads=["ridge"], cv=2, eval_split=["dev"]), folder / "run", plots=False)
    return folder, sorted((folder / "audio").glob("*.wav"))[:5]


def hub_cache(run: Path, root: Path) -> Path:
    """The layout huggingface_hub keeps: blobs by hash, a snapshot of symlinks per commit, refs/main naming the commit."""
    repo = root / f"models--{REPO.replace('/', '--')}"
    for path in sorted(p for p in run.rglob("*") if p.is_file()):
        blob = repo / "blobs" / hashlib.sha256(path.read_bytes()).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, blob)
        link = repo / "snapshots" / COMMIT / path.relative_to(run)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(Path(*[".."] * (len(path.relative_to(run).parts) + 1), "blobs", blob.name))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    return root


def test_fit_writes_a_model_card_with_the_runs_corpus_embedder_and_metrics(fitted):
    folder, _ = fitted
    run = folder / "run"
    card = huggingface_hub.ModelCard.load(run / "README.md")  # the Hub's own parser
    assert card.data.license == "other" and card.data.library_name == "clapmos"
    assert "spectral" in card.data.tags and card.data.datasets == [FeatureStore.open(folder / "s.zarr").corpus or "unnamed corpus"]
    metrics = json.loads((run / "metrics.json").read_text())
    html = MarkdownIt().enable("table").render(card.text)
    assert html.count("<table>") == 3  # the embedder, out-of-fold, held out
    for where in ("cv", "eval"):
        entry = metrics[where]["utterance"]["overall"]
        low, high = entry["interval"]["MSE"]
        assert f"<td>utterance</td>\n<td>overall</td>\n<td style=\"text-align:right\">{entry['MSE']:.3f} [{low:.3f}, {high:.3f}]</td>" in html
    assert "trained on split(s) `train`: 21 clips" in card.text and "held out: split(s) `dev`" in card.text
    low, high = metrics["eval"]["system"]["overall"]["interval"]["SRCC"]  # fit draws bootstrap intervals: the card shows them
    assert f"[{low:.3f}, {high:.3f}]" in card.text and "Intervals in brackets: 95% bootstrap intervals, 1000 draws, seed 0" in card.text


def test_the_card_says_when_a_run_has_no_intervals(fitted, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(fitted[0] / "run", run)
    metrics = json.loads((run / "metrics.json").read_text())
    for where in ("cv", "eval"):  # as written by `fit --draws 0` (or before intervals existed)
        for level in metrics[where].values():
            for entry in level.values():
                entry.pop("interval", None)
    metrics["bootstrap"] = None
    (run / "metrics.json").write_text(json.dumps(metrics))
    text = model_card(run, REPO)
    assert f"| {metrics['eval']['system']['overall']['SRCC']:.3f} |" in text
    assert "Point values; intervals were not computed for this run." in text
    assert f"---\n\n# {REPO}\n" in text and f'Predictor.from_pretrained("{REPO}"' in text


def test_a_run_loads_from_a_prefilled_hub_cache_offline_and_scores_like_the_folder(fitted, tmp_path):
    folder, clips = fitted
    cache = hub_cache(folder / "run", tmp_path / "hub")
    found = run_folder(REPO, cache_dir=cache, local_files_only=True)
    assert found == cache / f"models--{REPO.replace('/', '--')}" / "snapshots" / COMMIT
    remote = Predictor.from_pretrained(REPO, tmp_path / "c1", hub_cache_dir=cache, local_files_only=True).score(clips)
    local = Predictor.from_pretrained(folder / "run", tmp_path / "c2").score(clips)
    pd.testing.assert_frame_equal(remote, local, check_exact=True)


def test_a_tampered_blob_in_the_hub_cache_is_refused_like_a_tampered_folder(fitted, tmp_path):
    cache = hub_cache(fitted[0] / "run", tmp_path / "hub")
    snapshot = run_folder(REPO, cache_dir=cache, local_files_only=True)
    skops = (snapshot / "model" / "overall" / "model.skops").resolve()
    skops.write_bytes(skops.read_bytes() + b"\0")
    with pytest.raises(ClapmosError, match="sha256 mismatch"):
        Predictor.from_pretrained(REPO, hub_cache_dir=cache, local_files_only=True)


def test_a_repository_absent_from_the_cache_offline_is_one_clear_message(tmp_path):
    with pytest.raises(ClapmosError, match="not in the Hugging Face Hub cache .* while offline"):
        Predictor.from_pretrained("nobody/nothing", hub_cache_dir=tmp_path, local_files_only=True)
    with pytest.raises(ClapmosError, match="not a Hub repository id"):
        run_folder(str(tmp_path / "missing" / "deeper" / "run"))


def test_cli_score_reads_a_run_from_the_hub_cache(fitted, tmp_path, monkeypatch):
    folder, clips = fitted
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub_cache(folder / "run", tmp_path / "hub")))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    runner = CliRunner()
    hub = runner.invoke(cli.app, ["score", "--model", REPO, *map(str, clips), "--out", str(tmp_path / "hub.csv")], catch_exceptions=False)
    local = runner.invoke(cli.app, ["score", "--model", str(folder / "run"), *map(str, clips), "--out", str(tmp_path / "local.csv")],
                          catch_exceptions=False)
    assert hub.exit_code == 0 and local.exit_code == 0, hub.output
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "hub.csv"), pd.read_csv(tmp_path / "local.csv"), check_exact=True)


@pytest.fixture
def hub_calls(monkeypatch):
    """The Hub client's two network calls of a push, recorded instead of sent."""
    calls = []
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", lambda self, repo_id, **kw: calls.append(("create_repo", repo_id, kw)))

    def upload_folder(self, **kw):
        calls.append(("upload_folder", kw["repo_id"], kw))
        return huggingface_hub.CommitInfo(commit_url=f"https://huggingface.co/{kw['repo_id']}/commit/{COMMIT}", commit_message="m",
                                          commit_description="", oid=COMMIT)

    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)
    return calls


def test_push_uploads_the_checked_run_with_its_card_in_one_commit(fitted, tmp_path, hub_calls):
    run = tmp_path / "run"
    shutil.copytree(fitted[0] / "run", run)
    (run / "README.md").unlink()  # a run fitted before model cards
    (run / ".partial-leftover").write_text("x")
    result = CliRunner().invoke(cli.app, ["push", str(run), REPO, "--private"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (run / "README.md").is_file() and f"# {REPO}" in (run / "README.md").read_text()
    (_, repo, created), (_, uploaded_to, upload) = hub_calls
    assert repo == uploaded_to == REPO and created["private"] is True and created["exist_ok"] is True
    assert upload["folder_path"] == str(run) and upload["repo_type"] == "model"
    files = sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file())
    sent = sorted(huggingface_hub.utils.filter_repo_objects(files, ignore_patterns=upload["ignore_patterns"]))
    assert ".partial-leftover" not in sent and "README.md" in sent and "model/overall/model.json" in sent
    assert f"commit/{COMMIT}" in result.output


def test_push_dry_run_lists_the_files_and_sends_nothing(fitted, hub_calls):
    run = fitted[0] / "run"
    result = CliRunner().invoke(cli.app, ["push", str(run), REPO, "--dry-run"], catch_exceptions=False)
    assert result.exit_code == 0 and hub_calls == []
    assert "dry run, nothing uploaded" in result.output and "model/overall/model.skops" in result.output


def test_push_refuses_a_damaged_run_before_any_network_call(fitted, tmp_path, hub_calls):
    run = tmp_path / "run"
    shutil.copytree(fitted[0] / "run", run)
    (run / "model" / "overall" / "model.skops").write_bytes(b"not the model")
    result = CliRunner().invoke(cli.app, ["push", str(run), REPO])
    assert result.exit_code == 2 and "sha256 mismatch" in result.output and hub_calls == []


def test_write_model_card_is_deterministic(fitted, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(fitted[0] / "run", run)
    assert write_model_card(run).read_text() == (fitted[0] / "run" / "README.md").read_text()
