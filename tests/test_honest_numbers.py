"""No silently wrong or misleading numbers (issue 19, cases 9, 10, 12, 13 and 14)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from typer.testing import CliRunner

from clapmos import cli


def invoke(*args):
    return CliRunner().invoke(cli.app, [str(a) for a in args])


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A demo corpus of 8 systems, its store and a ridge run fitted on it."""
    from clapmos.embed.corpora.demo import make_demo_corpus

    folder = tmp_path_factory.mktemp("honest")
    make_demo_corpus(folder / "corpus", n_clips=48, seed=5)
    store = folder / "store.zarr"
    assert invoke("embed", "--corpus", "musiceval", "--root", folder / "corpus", "--embedder", "spectral", "--out", store).exit_code == 0
    run = folder / "run"
    result = invoke("fit", "--store", store, "--embedder", "spectral", "--head", "ridge", "--cv", "2", "--out", run, "--no-plots", "--target", "overall")
    assert result.exit_code == 0, result.output
    return folder, store, run


def test_case_9_a_clip_given_several_times_is_scored_and_counted_once(fitted, tmp_path):
    folder, _, run = fitted
    wavs = sorted((folder / "corpus" / "wav").glob("*.wav"))
    mine = tmp_path / "S1"
    mine.mkdir()
    for wav in wavs[:6]:
        shutil.copy(wav, mine / wav.name)
    again = mine / wavs[0].name
    out = tmp_path / "s.csv"
    result = invoke("score", again, again, again, mine, "--model", run, "--out", out, "--system-from", "folder", "--no-plots",
                    "--cache", tmp_path / "cache")
    assert result.exit_code == 0, result.output
    assert "given more than once" in result.output and f"{again}: given 4 times" in result.output
    scores = pd.read_csv(out)
    assert len(scores) == 6 and scores["path"].map(lambda p: p.rsplit("/", 1)[-1]).nunique() == 6
    systems = pd.read_csv(tmp_path / "s_systems.csv")
    assert systems["clips"].tolist() == [6] and systems["mean"].iloc[0] == pytest.approx(scores["overall"].mean(), abs=1e-12)


def _odd_clips(folder):
    """Silence, and a float file with samples of +-300 (both far from any training clip)."""
    rate = 16000
    sf.write(folder / "silence.wav", np.zeros(rate * 2, np.float32), rate)
    loud = 300 * np.sign(np.sin(2 * np.pi * 220 * np.arange(rate * 2) / rate)).astype(np.float32)
    sf.write(folder / "loud.wav", loud, rate, subtype="FLOAT")
    return [folder / "silence.wav", folder / "loud.wav"]


def test_case_10_predictions_outside_the_training_range_are_flagged_and_clipped_on_request(fitted, tmp_path):
    folder, _, run = fitted
    odd = _odd_clips(tmp_path)
    clips = odd + sorted((folder / "corpus" / "wav").glob("*.wav"))[:4]
    oof = pd.read_csv(run / "oof_predictions.csv")
    low, high = oof["overall"].min(), oof["overall"].max()  # the training scores' range
    out = tmp_path / "s.csv"
    result = invoke("score", *clips, "--model", run, "--out", out, "--cache", tmp_path / "cache")
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(out)
    outside = (scores["overall"] < low) | (scores["overall"] > high)
    assert scores["overall_outside"].tolist() == outside.tolist()
    assert outside.iloc[:2].any()  # silence or the loud file is predicted outside the scale the run knows
    assert f"{int(outside.sum())} overall prediction(s) lie outside the range the run was trained on" in result.output
    assert "not clipped" in result.output
    clipped = tmp_path / "c.csv"
    result = invoke("score", *clips, "--model", run, "--out", clipped, "--cache", tmp_path / "cache", "--clip")
    assert result.exit_code == 0, result.output
    again = pd.read_csv(clipped)
    assert again["overall"].tolist() == np.clip(scores["overall"], low, high).tolist()
    assert again["overall_outside"].tolist() == outside.tolist()


def test_case_12_a_diverged_fit_is_not_saved_and_an_untrained_net_is_refused(fitted, tmp_path):
    _, store, _ = fitted
    fit = ["fit", "--store", store, "--embedder", "spectral", "--head", "mlp", "--cv", "2", "--no-plots", "--target", "overall"]
    result = invoke(*fit, "--param", "lr=1e9", "--param", "max_epochs=3", "--out", tmp_path / "run")
    assert result.exit_code == 2, result.output
    assert "the fit diverged, so the run was not saved" in result.output and "--param lr=" in result.output
    assert not (tmp_path / "run").exists() and not list(tmp_path.iterdir())
    result = invoke(*fit, "--param", "max_epochs=0", "--out", tmp_path / "run")
    assert result.exit_code == 2 and "max_epochs=0" in result.output and "would not be trained" in result.output


def test_case_13_skip_bad_skips_every_kind_of_bad_audio_named_in_one_round(fitted, tmp_path):
    folder, _, run = fitted
    rate = 16000
    bad = {"nan.wav": np.full(rate, np.nan, np.float32), "inf.wav": np.full(rate, np.inf, np.float32)}
    for name, samples in bad.items():
        sf.write(tmp_path / name, samples, rate, subtype="FLOAT")
    (tmp_path / "broken.wav").write_bytes(b"RIFF not audio")
    good = sorted((folder / "corpus" / "wav").glob("*.wav"))[:3]
    inputs = [*good, tmp_path / "nan.wav", tmp_path / "inf.wav", tmp_path / "broken.wav"]
    refused = invoke("score", *inputs, "--model", run, "--out", tmp_path / "s.csv", "--cache", tmp_path / "cache")
    assert refused.exit_code == 2 and all(f"{tmp_path / n}" in refused.output for n in ("nan.wav", "inf.wav", "broken.wav"))
    assert "not finite" in refused.output and "--rebuild" not in refused.output
    result = invoke("score", *inputs, "--skip-bad", "--model", run, "--out", tmp_path / "s.csv", "--cache", tmp_path / "cache")
    assert result.exit_code == 0, result.output
    assert "skipped 3 input(s)" in result.output and len(pd.read_csv(tmp_path / "s.csv")) == 3


def test_case_14_runs_shows_the_folds_used(fitted, tmp_path):
    _, store, first = fitted
    run = tmp_path / "run"
    result = invoke("fit", "--store", store, "--embedder", "spectral", "--head", "ridge", "--cv", "40", "--group", "system",
                    "--no-plots", "--target", "overall", "--out", run)
    assert result.exit_code == 0, result.output
    used = json.loads((run / "provenance.json").read_text())["folds_used"]["overall"]
    systems = pd.read_csv(run / "oof_predictions.csv")["system"].nunique()
    assert used == systems < 40
    result = invoke("runs", run, first)  # the table shows the settings in which runs differ
    assert result.exit_code == 0 and f"{used} (40 asked)" in result.output, result.output


# --------------------------------------------------------------------------- a run stays usable; messages as written
def test_the_python_api_takes_one_path_or_a_list_and_refuses_other_types(fitted, tmp_path):
    from clapmos.embed.errors import ClapmosError
    from clapmos.evaluation.predictor import Predictor

    folder, _, run = fitted
    predictor = Predictor.from_run(run, tmp_path / "cache")
    wavs = sorted((folder / "corpus" / "wav").glob("*.wav"))[:3]
    one = predictor.score(str(wavs[0]))  # a string is one path, not a sequence of letters
    assert one["path"].tolist() == [str(wavs[0])]
    assert len(predictor.score(wavs)) == 3
    for wrong, named in [(pd.DataFrame({"path": map(str, wavs)}), "DataFrame"), (3, "int"), ([wavs[0], 3], "list")]:
        with pytest.raises(ClapmosError, match=f"expected a path or a list of paths.*got {named}"):
            predictor.score(wrong)
    with pytest.raises(ClapmosError, match="texts: expected a list"):
        predictor.score([wavs[0]], texts="a prompt")


def test_messages_are_printed_as_written_never_as_markup_or_emoji(tmp_path):
    spec = f"{tmp_path}/my_plugin.py:X:"  # rich would print `:X:` as an emoji and drop `[Name]`
    result = invoke("embed", "--corpus", "manifest", "--root", tmp_path / "none.csv", "--embedder", f"{spec}[Name]", "--out", tmp_path / "s.zarr")
    assert result.exit_code == 2 and f"{spec}[Name]" in result.output and "❌" not in result.output
