"""The synthetic demo corpus: read by the real MusicEval reader, with the designed differences."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from scipy import signal
from scipy.stats import spearmanr

from clapmos.embed.corpora import read_corpus
from clapmos.embed.corpora.demo import DEMO_SYSTEMS, make_demo_corpus, plan_demo, prompt_attributes, prompt_text
from clapmos.embed.errors import ClapmosError


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo") / "corpus"
    return out, make_demo_corpus(out)


@pytest.fixture(scope="module")
def corpus(demo):
    return read_corpus("musiceval", demo[0])


@pytest.fixture(scope="module")
def plan(corpus) -> pd.DataFrame:
    """The latent design of each clip, in the corpus's item order."""
    design = plan_demo(240, seed=0)
    design.index = design["file"].str.removesuffix(".wav")
    return design.loc[corpus.items["id"]].reset_index(drop=True)


def spectrum(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies and mean STFT magnitude of a wav file."""
    audio, sr = sf.read(path)
    freqs, _, stft = signal.stft(audio, sr, nperseg=1024)
    return freqs, np.abs(stft).mean(axis=1)


def test_the_musiceval_reader_reads_the_demo_with_the_designed_counts(corpus):
    assert len(corpus) == 240 and corpus.splits == ["train", "dev"]
    dev = (corpus.items["split"] == "dev").sum()
    assert 0.15 <= dev / 240 <= 0.25
    assert sorted(corpus.items["system"].unique()) == sorted(s.id for s in DEMO_SYSTEMS)
    assert (corpus.ratings.groupby("item").size() == 5).all() and corpus.ratings["listener"].nunique() == 14
    assert corpus.ratings[["overall", "textual"]].isin([1, 2, 3, 4, 5]).all().all()


def test_item_means_are_multiples_of_0_2_and_the_mean_of_the_person_ratings(corpus):
    labels = corpus.labels.to_numpy()
    np.testing.assert_allclose(labels * 5, np.rint(labels * 5), atol=1e-9)
    np.testing.assert_allclose(corpus.ratings.groupby("item")[["overall", "textual"]].mean().to_numpy(), labels)


def test_demo_system_clips_have_their_text_only_in_demo_prompt_info(demo, corpus, plan):
    root = demo[0]
    prompt_ids = {line.split("\t")[0] for line in (root / "prompt_info.txt").read_text().splitlines()[1:]}
    demo_ids = [s.id for s in DEMO_SYSTEMS if s.demo]
    items = corpus.items[corpus.items["system"].isin(demo_ids)]
    assert len(items) == 60 and not any(i.rsplit("_", 1)[1] in prompt_ids for i in items["id"])
    texts = dict(zip(plan["file"].str.removesuffix(".wav"), plan["prompt"].map(prompt_text)))
    assert corpus.items["text"].tolist() == [texts[i] for i in corpus.items["id"]]


def test_system_mos_follows_the_designed_quality(demo, corpus):
    observed = corpus.labels.groupby(corpus.items["system"])["overall"].mean()
    designed = sorted(DEMO_SYSTEMS, key=lambda s: -s.quality)
    assert np.all(np.diff(observed[[s.id for s in designed]].to_numpy()) < 0)
    written = pd.read_csv(demo[0] / "system_mos" / "system_mos_phase1.csv", header=None, index_col=0)
    np.testing.assert_allclose(written[1], observed[written.index], atol=1e-4)


def test_textual_mos_rises_with_the_fraction_of_prompted_attributes_rendered(corpus, plan):
    textual = corpus.labels["textual"].groupby(plan["alignment"].to_numpy()).mean()
    assert list(textual.index) == [0, 1 / 3, 2 / 3, 1] and np.all(np.diff(textual.to_numpy()) > 0.3)


def test_audio_flaws_grow_as_quality_falls(demo, corpus, plan):
    floors = []
    for path in corpus.items["path"]:
        _, magnitude = spectrum(path)
        floors.append(np.median(20 * np.log10(magnitude + 1e-9)) - 20 * np.log10(magnitude.max()))
    assert spearmanr(plan["quality"], floors).statistic < -0.7


def test_prompted_register_and_timbre_are_audible_on_clean_clips(corpus, plan):
    clean = plan.index[plan["quality"] > 0.6]
    peak, centroid = {}, {}
    for i in clean:
        freqs, magnitude = spectrum(corpus.items.at[i, "path"])
        peak[i] = freqs[np.argmax(magnitude)]
        centroid[i] = (freqs * magnitude**2).sum() / (magnitude**2).sum()
    peak, centroid = pd.Series(peak), pd.Series(centroid)
    register, timbre = plan.loc[clean, "register"], plan.loc[clean, "timbre"]
    assert peak[register == "low"].max() < peak[register == "high"].min()
    for band in ("low", "high"):
        assert centroid[(register == band) & (timbre == "bright")].mean() > 1.3 * centroid[(register == band) & (timbre == "dark")].mean()


def test_clips_are_short_16k_mono_16_bit(corpus):
    for path in corpus.items["path"][:20]:
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16") and 2.0 <= info.duration <= 3.0


def test_prompts_name_their_attributes():
    for prompt in range(8):
        text = prompt_text(prompt).lower()
        assert all(word in text for word in ("pitched", "slow" if prompt_attributes(prompt)["tempo"] == "slow" else "fast"))


def test_the_same_seed_writes_the_same_bytes_and_another_seed_differs(tmp_path):
    first, second, other = (tmp_path / name for name in ("a", "b", "c"))
    make_demo_corpus(first, n_clips=24, seed=3)
    make_demo_corpus(second, n_clips=24, seed=3)
    make_demo_corpus(other, n_clips=24, seed=4)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    assert all((first / f).read_bytes() == (second / f).read_bytes() for f in files)
    assert (first / "sets" / "train_mos_list.txt").read_bytes() != (other / "sets" / "train_mos_list.txt").read_bytes()


def test_the_summary_reports_the_counts(demo):
    summary = demo[1]
    assert "not music" in summary and "240 clips" in summary and "8 systems" in summary and "--corpus musiceval" in summary


def test_too_few_clips_is_a_clear_error(tmp_path):
    with pytest.raises(ClapmosError, match="at least 24 clips"):
        make_demo_corpus(tmp_path, n_clips=10)
