"""The model card of a run: ``README.md`` in the run folder, in the Hugging Face model card layout.

A YAML header (``license``, ``library_name``, ``tags``, ``datasets``, ``metrics``: what the Hub
indexes), then what a user of the run must know: the training corpus and splits, the
embedder (backend, checkpoint and its sha256, window, hop), the metrics out-of-fold and on the
held-out split, how to load and score, intended use and limitations, and the licence field.
It is made from the run's own files (``config.json``, ``provenance.json``, ``metrics.json``),
so ``fit`` writes it and ``clapmos push`` can write it for a run fitted before cards existed.

Metrics with intervals: an entry of ``metrics.json`` (``{level: {target: {metric: value, "N": n}}}``)
carries ``"interval": {metric: [low, high]}`` when ``fit`` drew bootstrap intervals, and the
file's ``"bootstrap"`` says how (draws, confidence, method); the card then shows
``value [low, high]``. Without them it shows point values and says the intervals were not computed.

>>> print(metrics_table({"utterance": {"overall": {"MSE": 0.5, "SRCC": 0.8, "N": 40,
...                       "interval": {"SRCC": [0.7, 0.9]}}}}))
| level | target | MSE | LCC | SRCC | KTAU | N |
|---|---|---:|---:|---:|---:|---:|
| utterance | overall | 0.500 | – | 0.800 [0.700, 0.900] | – | 40 |
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CARD = "README.md"
METRIC_NAMES = ("MSE", "LCC", "SRCC", "KTAU")
HUB_METRICS = ("mse", "pearsonr", "spearmanr", "kendalltau")  # the Hub's names of the four


def metrics_table(metrics: dict[str, dict[str, dict[str, Any]]], digits: int = 3) -> str:
    """One Markdown row per level and target: the four metrics (with ``[low, high]`` when given) and N."""
    lines = ["| level | target | " + " | ".join(METRIC_NAMES) + " | N |", "|---|---|" + "---:|" * (len(METRIC_NAMES) + 1)]
    for level, targets in metrics.items():
        for target, entry in targets.items():
            cells = []
            for name in METRIC_NAMES:
                value = entry.get(name)
                cell = "–" if value is None else f"{value:.{digits}f}"
                interval = (entry.get("interval") or {}).get(name)
                if value is not None and interval is not None and None not in interval:
                    cell += f" [{interval[0]:.{digits}f}, {interval[1]:.{digits}f}]"
                cells.append(cell)
            lines.append(f"| {level} | {target} | " + " | ".join(cells) + f" | {entry.get('N', '–')} |")
    return "\n".join(lines)


def model_card(folder: str | Path, repo_id: str | None = None, name: str | None = None) -> str:
    """The model card of the run in ``folder`` (Markdown with a YAML header), from its files.

    ``repo_id`` (``org/name``, where it is pushed) titles the card and its loading example;
    without it, ``name`` (default: the folder's name) titles it.
    """
    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text())
    provenance = json.loads((folder / "provenance.json").read_text())
    metrics_file = folder / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    name = repo_id or name or folder.name
    where = repo_id or "ORG/NAME"
    embedders = provenance.get("embedders", {})
    corpus = provenance.get("corpus") or "unnamed corpus"
    targets = config.get("targets") or []
    header = {
        "license": "other",
        "library_name": "clapmos",
        "tags": ["clapmos", "audio", "mos-prediction", "audio-quality-assessment", *embedders],
        "datasets": [corpus],
        "metrics": list(HUB_METRICS),
    }
    yaml = "\n".join(f"{key}: {json.dumps(value)}" for key, value in header.items())  # JSON values are YAML
    train = "+".join(config.get("train_split") or ["train"])
    held_out = "+".join(config.get("eval_split") or []) or None
    n_train = _rows(folder / "oof_predictions.csv")
    sections = [
        f"---\n{yaml}\n---\n",
        f"# {name}\n",
        f"A clapmos run: it predicts how listeners rate audio clips ({', '.join(targets)}) "
        f"from {' + '.join(embedders) or 'audio'} embeddings, with a {config.get('cv', '?')}-fold cross-validated ensemble of "
        f"{', '.join(config.get('heads', []))} heads" + (f" (recipe `{config['recipe']}`)" if config.get("recipe") else "") + ".\n",
        "## Training data\n",
        f"- corpus: **{corpus}** (store `{provenance.get('store', '?')}`)\n"
        f"- trained on split(s) `{train}`" + (f": {n_train} clips" if n_train is not None else "") + "\n"
        + (f"- held out: split(s) `{held_out}`\n" if held_out else "- no held-out split was scored\n"),
        "## Embedder\n",
        _embedder_table(embedders),
        "The checkpoint is not part of this repository: pass the same file to `score` (`--checkpoint`); "
        "another one is refused by its sha256 before anything is embedded.\n",
        "## Metrics\n",
        _metrics_section(metrics, train, held_out),
        "## How to use\n",
        "```python\nfrom clapmos.evaluation.predictor import Predictor\n\n"
        f"predictor = Predictor.from_pretrained(\"{where}\", checkpoint=\"path/to/checkpoint.pt\")\n"
        "scores = predictor.score([\"clips/\"])  # one row per clip: each target and its spread\n```\n\n"
        f"or `clapmos score --model RUN_FOLDER --checkpoint path/to/checkpoint.pt clips/ --out scores.csv`.\n",
        "## Intended use and limitations\n",
        f"- Meant to compare systems and checkpoints on clips like those of **{corpus}**: predicted ratings are on "
        "that listening test's scale, from its listeners; other kinds of audio, lengths or prompts are outside what "
        "it was validated on.\n"
        "- A prediction is not a listening test: use system-level means (with `score`'s bootstrap intervals over clips) "
        "rather than single clips, and confirm important decisions with listeners.\n"
        "- The out-of-fold metrics come from the training split; only held-out metrics say how it generalises.\n"
        "- Loading checks every model file's sha256 and trusts only the types of the run's own heads (no pickle).\n",
        "## Licence\n",
        "`license: other` in the header: set it to a licence compatible with the training corpus, its ratings and the "
        "embedder checkpoint before publishing.\n",
    ]
    return "\n".join(sections)


def write_model_card(folder: str | Path, repo_id: str | None = None, name: str | None = None) -> Path:
    """Write :func:`model_card` as ``README.md`` in the run ``folder``; return its path."""
    path = Path(folder) / CARD
    path.write_text(model_card(folder, repo_id, name))
    return path


def _embedder_table(embedders: dict[str, dict[str, Any]]) -> str:
    lines = ["| embedder | backend | checkpoint | sha256 | window (s) | hop (s) | sample rate |", "|---|---|---|---|---:|---:|---:|"]
    for embedder, attrs in embedders.items():
        checkpoint = attrs.get("checkpoint") or attrs.get("model_path") or "–"
        digest = attrs.get("checkpoint_sha256") or attrs.get("weights_sha256") or "–"
        lines.append(f"| {embedder} | {attrs.get('backend', embedder)} | {Path(str(checkpoint)).name} | `{digest}` | "
                     f"{attrs.get('window_s', '–')} | {attrs.get('hop_s', '–')} | {attrs.get('sample_rate', '–')} |")
    return "\n".join(lines) + "\n"


def _metrics_section(metrics: dict[str, Any], train: str, held_out: str | None) -> str:
    parts = []
    for key, title in (("cv", f"Cross-validated (out-of-fold) on `{train}`"), ("eval", f"Held-out split `{held_out}`")):
        if metrics.get(key):
            parts.append(f"### {title}\n\n{metrics_table(metrics[key])}\n")
    if not parts:
        return "No metrics were recorded with this run (no `metrics.json`).\n"
    entries = [e for key in ("cv", "eval") for level in metrics.get(key, {}).values() for e in level.values()]
    bootstrap = metrics.get("bootstrap") or {}
    if any(e.get("interval") for e in entries):
        how = (f"{bootstrap['confidence']:.0%} bootstrap intervals, {bootstrap['draws']} draws, seed {bootstrap['seed']}: "
               f"{bootstrap.get('method', '')}" if bootstrap else "as recorded in metrics.json")
        parts.append(f"Intervals in brackets: {how}.\n")
    else:
        parts.append("Point values; intervals were not computed for this run.\n")
    return "\n".join(parts)


def _rows(path: Path) -> int | None:
    if not path.is_file():
        return None
    with path.open() as lines:
        return max(0, sum(1 for _ in lines) - 1)
