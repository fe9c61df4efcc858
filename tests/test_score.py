"""`cli.py score`: files in, scores out — the numbers of `embed` + `predict`, embedded once, bad input named.

The demo corpus is embedded into a store and a run is fitted on it; `score` then reads the
same wav files as a folder or as a JSONL list, without any store of the user's.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from typer.testing import CliRunner

from clapmos import cli
from clapmos.embed.ownership import record_folder
from clapmos.embed.backends.spectral import SpectralEmbedder
from clapmos.embed.corpora.demo import make_demo_corpus
from clapmos.embed.engines.score_cache import EmbeddingCache
from clapmos.embed.store import FeatureStore
from clapmos.evaluation.predictor import Predictor
from clapmos.heads.runs.run import load_run

runner = CliRunner()
TARGETS = ["overall", "textual"]


def invoke(*args):
    return runner.invoke(cli.app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A demo corpus, its store, a ridge run fitted on it, and the run's predictions of every clip."""
    folder = tmp_path_factory.mktemp("score")
    make_demo_corpus(folder / "corpus", n_clips=48, seed=2)
    assert invoke("embed", "--corpus", "musiceval", "--root", folder / "corpus", "--embedder", "spectral", "--out", folder / "store.zarr").exit_code == 0
    fitted = invoke("fit", "--store", folder / "store.zarr", "--embedder", "spectral", "--head", "ridge", "--cv", 2, "--out", folder / "run")
    assert fitted.exit_code == 0, fitted.output
    store = FeatureStore.open(folder / "store.zarr")
    predictions = load_run(folder / "run").predict(store).set_index("id")
    items = store.items().set_index("id")
    return folder, predictions, items


def embed_and_predict(run: Path, rows: pd.DataFrame, folder: Path) -> pd.DataFrame:
    """What `embed` + `predict` give for these clips (``path``, optional ``text``), in this order: a manifest store."""
    folder.mkdir()
    manifest = rows.reindex(columns=["path", "text"]).fillna("").assign(id=[f"c{i}" for i in range(len(rows))])
    manifest.to_csv(folder / "clips.csv", index=False)
    assert invoke("embed", "--corpus", "manifest", "--root", folder / "clips.csv", "--embedder", "spectral", "--out", folder / "s.zarr").exit_code == 0
    predicted = invoke("predict", "--model", run, "--store", folder / "s.zarr", "--format", "csv", "--out", folder / "p.csv")
    assert predicted.exit_code == 0, predicted.output
    return load_run(run).predict(FeatureStore.open(folder / "s.zarr"))


def read_scores(path: Path) -> pd.DataFrame:
    if path.suffix == ".jsonl":
        return pd.DataFrame([json.loads(line) for line in path.read_text().splitlines()])
    return pd.read_csv(path, float_precision="round_trip", keep_default_na=False, na_values=[""])


def clip_ids(paths: pd.Series) -> list[str]:
    return [Path(p).stem for p in paths]


def write_list(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def count_model_use(monkeypatch) -> dict[str, int]:
    """Count loads of the spectral embedder and the windows it embeds."""
    calls = {"load": 0, "windows": 0}
    load, embed_audio = SpectralEmbedder.load, SpectralEmbedder.embed_audio

    def counted_load(self):
        calls["load"] += 1
        return load(self)

    def counted_embed(self, windows):
        calls["windows"] += len(windows)
        return embed_audio(self, windows)

    monkeypatch.setattr(SpectralEmbedder, "load", counted_load)
    monkeypatch.setattr(SpectralEmbedder, "embed_audio", counted_embed)
    return calls


def test_a_folder_scores_exactly_as_embed_and_predict(demo, tmp_path):
    folder, predictions, _ = demo
    result = invoke("score", "--model", folder / "run", folder / "corpus" / "wav", "--out", tmp_path / "scores.csv")
    assert result.exit_code == 0, result.output
    scores = read_scores(tmp_path / "scores.csv")
    expected = embed_and_predict(folder / "run", scores, tmp_path / "reference")
    assert len(scores) == len(predictions) and list(scores.columns) == ["path", "overall", "overall_std", "overall_outside"]
    np.testing.assert_array_equal(scores[["overall", "overall_std"]].to_numpy(), expected[["overall", "overall_std"]].to_numpy())
    assert "textual reads the prompt and no input has text: textual is not scored" in result.output
    assert f"{len(scores)} clip(s) embedded now, 0 read from the cache" in result.output


def test_a_jsonl_list_with_prompts_and_systems_scores_every_target_exactly(demo, tmp_path):
    folder, predictions, items = demo
    chosen = items.iloc[::3]
    listed = write_list(tmp_path / "outputs.jsonl", [{"path": row.path, "text": row.text, "system": row.system} for row in chosen.itertuples()])
    result = invoke("score", "--model", folder / "run", listed, "--out", tmp_path / "scores.jsonl", "--no-plots")
    assert result.exit_code == 0, result.output
    scores = read_scores(tmp_path / "scores.jsonl")
    assert scores["path"].tolist() == chosen["path"].tolist() and scores["system"].tolist() == chosen["system"].tolist()
    columns = [c for t in TARGETS for c in (t, f"{t}_std")]
    expected = embed_and_predict(folder / "run", chosen, tmp_path / "reference")
    np.testing.assert_array_equal(scores[columns].to_numpy(), expected[columns].to_numpy())
    assert "| system | clips | overall (95% interval) | textual (95% interval) |" in result.output
    table = pd.read_csv(tmp_path / "scores_systems.csv")
    means = scores.groupby("system")["overall"].mean()
    np.testing.assert_allclose(table.query("target == 'overall'").set_index("system")["mean"].loc[means.index], means, rtol=1e-12)
    assert (tmp_path / "scores_ahead.csv").is_file() and not (tmp_path / "scores_systems.png").exists()


def test_scoring_again_reads_only_the_cache(demo, tmp_path, monkeypatch):
    folder, _, _ = demo
    args = ["score", "--model", folder / "run", folder / "corpus" / "wav", "--out", tmp_path / "first.csv", "--cache", tmp_path / "cache"]
    assert invoke(*args).exit_code == 0
    calls = count_model_use(monkeypatch)
    again = invoke(*args[:-3], tmp_path / "again.csv", *args[-2:])
    assert again.exit_code == 0, again.output
    assert calls == {"load": 0, "windows": 0}
    assert "0 clip(s) embedded now, 48 read from the cache" in again.output
    pd.testing.assert_frame_equal(read_scores(tmp_path / "first.csv"), read_scores(tmp_path / "again.csv"))


def test_a_larger_set_later_embeds_only_the_new_clips_and_keeps_the_cached_ones(demo, tmp_path, monkeypatch):
    folder, predictions, items = demo
    cache = tmp_path / "cache"
    half = write_list(tmp_path / "half.jsonl", [{"path": p} for p in items["path"].iloc[:20]])
    assert invoke("score", "--model", folder / "run", half, "--out", tmp_path / "half.csv", "--cache", cache).exit_code == 0
    first_shard = EmbeddingCache.open(cache).shards()[0]
    before = first_shard.audio("spectral").copy()
    calls = count_model_use(monkeypatch)
    result = invoke("score", "--model", folder / "run", folder / "corpus" / "wav", "--out", tmp_path / "all.csv", "--cache", cache)
    assert result.exit_code == 0, result.output
    assert calls["windows"] == len(items) - 20 and "28 clip(s) embedded now, 20 read from the cache" in result.output
    shards = EmbeddingCache.open(cache).shards()
    assert len(shards) == 2 and np.array_equal(FeatureStore.open(first_shard.path).audio("spectral"), before)
    scores = read_scores(tmp_path / "all.csv")
    expected = embed_and_predict(folder / "run", scores, tmp_path / "reference")
    np.testing.assert_array_equal(scores["overall"].to_numpy(), expected["overall"].to_numpy())


def test_the_python_predictor_gives_the_same_table_with_the_same_cache(demo, tmp_path):
    folder, predictions, items = demo
    chosen = items.groupby("system").head(2)
    predictor = Predictor.from_run(folder / "run", cache=tmp_path / "cache")
    scores = predictor.score(chosen["path"].tolist(), texts=chosen["text"].tolist(), systems=chosen["system"].tolist())
    assert list(scores.columns) == ["path", "system", "overall", "overall_std", "textual", "textual_std", "overall_outside", "textual_outside"]
    expected = embed_and_predict(folder / "run", chosen, tmp_path / "reference")
    np.testing.assert_array_equal(scores[TARGETS].to_numpy(), expected[TARGETS].to_numpy())
    listed = write_list(tmp_path / "l.jsonl", [{"path": r.path, "text": r.text, "system": r.system} for r in chosen.itertuples()])
    again = invoke("score", "--model", folder / "run", listed, "--out", tmp_path / "s.csv", "--cache", tmp_path / "cache", "--no-plots")
    assert f"0 clip(s) embedded now, {len(chosen)} read from the cache" in again.output
    comparison = predictor.compare_systems(scores, n_draws=200)
    assert set(comparison.table["system"]) == set(chosen["system"])


def test_systems_can_come_from_the_file_names(demo, tmp_path):
    folder, _, items = demo
    result = invoke("score", "--model", folder / "run", folder / "corpus" / "wav", "--system-from", r"-(S\d+)_", "--out", tmp_path / "s.csv")
    assert result.exit_code == 0, result.output
    scores = read_scores(tmp_path / "s.csv")
    assert scores["system"].tolist() == items.loc[clip_ids(scores["path"]), "system"].tolist()
    assert (tmp_path / "s_systems.png").read_bytes().startswith(b"\x89PNG")
    assert "share of draws in which the row system is ahead" in result.output


@pytest.mark.parametrize("pattern", ["(X)?", "Z*", "nowhere"])
def test_a_system_pattern_that_finds_nothing_in_a_name_is_refused_with_the_files(demo, tmp_path, pattern):
    folder, _, _ = demo
    result = invoke("score", "--model", folder / "run", folder / "corpus" / "wav", "--system-from", pattern, "--out", tmp_path / "s.csv")
    assert result.exit_code == 2 and "matches no part" in result.output and ".wav" in result.output
    assert not (tmp_path / "s.csv").exists()


def test_a_segment_scores_like_the_same_part_cut_into_its_own_file(demo, tmp_path):
    folder, _, _ = demo
    rate, rng = 16000, np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal(3 * rate)).astype(np.float32)
    sf.write(tmp_path / "long.wav", audio, rate, subtype="FLOAT")
    sf.write(tmp_path / "part.wav", audio[rate // 2 : 2 * rate], rate, subtype="FLOAT")
    listed = write_list(tmp_path / "l.jsonl", [{"path": "long.wav", "start_s": 0.5, "end_s": 2.0}, {"path": "part.wav"}, {"path": "long.wav"}])
    result = invoke("score", "--model", folder / "run", listed, "--out", tmp_path / "s.csv")
    assert result.exit_code == 0, result.output
    scores = read_scores(tmp_path / "s.csv")
    assert scores["overall"].iloc[0] == scores["overall"].iloc[1] != scores["overall"].iloc[2]
    assert scores["start_s"].iloc[0] == 0.5 and np.isnan(scores["start_s"].iloc[1])


class PowerCut(Exception):
    """The process stopping in the middle of embedding."""


def test_an_interrupted_score_resumes_where_it_stopped(tmp_path, monkeypatch):
    from tests.conftest import make_corpus

    corpus = make_corpus(tmp_path / "audio", n=150, seconds=0.05, sample_rate=16000)
    store = FeatureStore.create(tmp_path / "store.zarr", corpus)
    from clapmos.embed.engines.runner import embed_corpus
    from clapmos.heads.runs.run import RunConfig, fit_run, save_run

    embed_corpus(store, "spectral", progress=False)
    save_run(fit_run(store, RunConfig(embedders=["spectral"], heads=["ridge"], targets=["overall"], cv=2)), tmp_path / "run")
    calls = count_model_use(monkeypatch)
    original = SpectralEmbedder.embed_audio

    def stop_in_the_second_block(self, windows):
        if calls["windows"] >= 64:
            raise PowerCut
        return original(self, windows)

    monkeypatch.setattr(SpectralEmbedder, "embed_audio", stop_in_the_second_block)
    args = ["score", "--model", tmp_path / "run", tmp_path / "audio", "--out", tmp_path / "s.csv", "--cache", tmp_path / "cache"]
    with pytest.raises(PowerCut):
        runner.invoke(cli.app, [str(a) for a in args], catch_exceptions=False)
    (shard,) = EmbeddingCache.open(tmp_path / "cache").shards()
    assert shard.done("spectral").sum() == 64
    monkeypatch.undo()
    calls = count_model_use(monkeypatch)
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert calls["windows"] == 150 - 64 and len(EmbeddingCache.open(tmp_path / "cache").shards()) == 1
    expected = load_run(tmp_path / "run").predict(store)  # the same clips in the same order
    scores = read_scores(tmp_path / "s.csv")
    assert clip_ids(scores["path"]) == expected["id"].tolist()
    np.testing.assert_array_equal(scores["overall"].to_numpy(), expected["overall"].to_numpy())


# ---------------------------------------------------------------------- bad input: one message, exit 2, nothing lost
def test_unreadable_and_empty_inputs_are_named_together_and_skip_bad_scores_the_rest(demo, tmp_path):
    folder, _, items = demo
    (tmp_path / "broken.wav").write_bytes(b"not audio at all")
    sf.write(tmp_path / "empty.wav", np.zeros(0, np.float32), 16000)
    rows = [{"path": p} for p in items["path"].iloc[:3]] + [{"path": "broken.wav"}, {"path": "empty.wav"}, {"path": "gone.wav"}]
    rows.append({"path": str(items["path"].iloc[0]), "start_s": 100.0})
    rows.append({"path": str(items["path"].iloc[0]), "start_s": 0.5, "end_s": 0.50001})  # less than one sample
    listed = write_list(tmp_path / "l.jsonl", rows)
    args = ["score", "--model", folder / "run", listed, "--out", tmp_path / "s.csv", "--cache", tmp_path / "cache"]
    refused = invoke(*args)
    assert refused.exit_code == 2 and "Traceback" not in refused.output
    assert "5 of 8 input(s) cannot be scored" in refused.output
    for reason in ("l.jsonl:4: unreadable", "l.jsonl:5: empty", "l.jsonl:6: missing", "l.jsonl:7: the segment starts at 100 s, after the end",
                   "l.jsonl:8: the segment 0.5–0.50001 s holds no audio sample"):
        assert reason in refused.output
    assert not (tmp_path / "s.csv").exists()
    skipped = invoke(*args, "--skip-bad")
    assert skipped.exit_code == 0, skipped.output
    assert "skipped 5 input(s)" in skipped.output and "l.jsonl:4: unreadable" in skipped.output
    assert len(read_scores(tmp_path / "s.csv")) == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"file": "a.wav"}\n', "no `path` column"),
        ('{"path": "a.wav", "mos": 3}\n', "unknown column(s) mos"),
        ('{"path": "a.wav", "start_s": 2, "end_s": 1}\n', "start_s 2 is not before end_s 1"),
        ('{"path": "a.wav", "start_s": "soon"}\n', "start_s: 'soon' is not a number"),
    ],
)
def test_malformed_lists_are_refused_with_their_line(demo, tmp_path, content, message):
    folder, _, _ = demo
    (tmp_path / "l.jsonl").write_text(content)
    result = invoke("score", "--model", folder / "run", tmp_path / "l.jsonl", "--out", tmp_path / "s.csv")
    assert result.exit_code == 2 and message in result.output, result.output


def test_inputs_resolving_to_no_file_are_one_message(demo, tmp_path):
    folder, _, _ = demo
    (tmp_path / "empty").mkdir()
    result = invoke("score", "--model", folder / "run", tmp_path / "empty", "--out", tmp_path / "s.csv")
    assert result.exit_code == 2 and "hold no audio files" in result.output
    result = invoke("score", "--model", folder / "run", tmp_path / "nowhere", "--out", tmp_path / "s.csv")
    assert result.exit_code == 2 and "neither a file nor a folder" in result.output


def test_a_run_folder_of_an_incompatible_version_is_refused(demo, tmp_path):
    folder, _, _ = demo
    import shutil

    shutil.copytree(folder / "run", tmp_path / "run")
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    (tmp_path / "run" / "config.json").write_text(json.dumps({**config, "a_setting_of_the_future": 1}))
    record_folder(tmp_path / "run", "run")  # as a later clapmos would have written and recorded it
    result = invoke("score", "--model", tmp_path / "run", folder / "corpus" / "wav", "--out", tmp_path / "s.csv")
    assert result.exit_code == 2 and "incompatible clapmos version" in result.output


def test_files_clapmos_did_not_write_are_never_replaced(demo, tmp_path):
    folder, _, _ = demo
    (tmp_path / "s.csv").write_text("my,own,notes\n")
    (tmp_path / "s_systems.png").write_bytes(b"\x89PNG not ours")
    result = invoke("score", "--model", folder / "run", folder / "corpus" / "wav", "--out", tmp_path / "s.csv")
    assert result.exit_code == 2 and "clapmos did not write these" in result.output
    assert (tmp_path / "s.csv").read_text() == "my,own,notes\n"
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("x")
    result = invoke("score", "--model", folder / "run", folder / "corpus" / "wav", "--out", tmp_path / "t.csv", "--cache", tmp_path / "mine")
    assert result.exit_code == 2 and "is not a clapmos embedding cache" in result.output
    assert (tmp_path / "mine" / "notes.txt").read_text() == "x"
    result = invoke("score", "--model", folder / "run", folder / "corpus" / "wav", "--out", tmp_path / "t.txt")
    assert result.exit_code == 2 and "a .jsonl or .csv file" in result.output
    result = invoke("score", "--model", folder / "run", folder / "corpus" / "wav", "--out", tmp_path / "t.csv", "--cache", tmp_path / "s.csv" / "cache")
    assert result.exit_code == 2 and "--cache" in result.output and "cannot make the cache folder" in result.output
