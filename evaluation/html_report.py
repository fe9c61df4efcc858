"""One self-contained HTML page to look at and listen to: metrics with intervals, plots, worst clips with players.

The page needs nothing but itself: plots are PNGs and audio files are embedded as base64
``data:`` URIs, so it opens from the file system, offline, and still works when mailed or
moved (linked audio would break as soon as the page or the corpus moves, and a browser may
refuse ``file://`` media next to a page it opened from elsewhere). The cost is size: each
worst clip adds its file's bytes once and a third (keep ``n_worst`` small for long clips).
There is no script and no external resource (no CDN).

>>> import pandas as pd
>>> from clapmos.evaluation.report import evaluate_predictions
>>> from clapmos.evaluation.truth import Truth
>>> clips = pd.DataFrame({"id": list("abcdef"), "system": list("XXYYZZ"), "overall": [1.0, 2, 3, 4, 5, 4]})
>>> report = evaluate_predictions(clips[["id"]].assign(overall=[1.5, 2, 2.5, 4, 4.5, 5]), Truth(clips, ["overall"], "memory"))
>>> page = html_report(report, n_worst=2)
>>> page.startswith("<!DOCTYPE html>") and page.count("<img") >= 3 and 'src="http' not in page
True
"""

from __future__ import annotations

import base64
import html
import math
import tempfile
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd

from clapmos.embed.errors import ClapmosError
from clapmos.evaluation.attention_plots import attention_plot, worst_clips
from clapmos.evaluation.metrics import LEVELS, METRICS, system_table
from clapmos.evaluation.report import EvaluationReport

GENERATOR = '<meta name="generator" content="clapmos report">'
AUDIO_TYPES = {".wav": "audio/wav", ".flac": "audio/flac", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".opus": "audio/ogg", ".m4a": "audio/mp4"}
STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}.plots img{width:24%;margin:.2em 0}.wide{max-width:75%}
.clip{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;margin:.8em 0}.clip audio,.clip img{display:block;margin:.3em 0}.clip img{max-width:60%}.muted{color:#777}"""


def html_report(
    report: EvaluationReport,
    *,
    audio: Mapping[str, str | Path] | None = None,
    prompts: Mapping[str, str] | pd.Series | None = None,
    attention: pd.DataFrame | None = None,
    n_worst: int = 6,
    title: str | None = None,
) -> str:
    """The page as a string: metrics, scatter plots, per-system table, and the ``n_worst`` worst clips of each target.

    ``audio`` maps clip ids to their files (embedded when they exist), ``prompts`` clip ids to
    their texts, ``attention`` (``id``, ``target``, ``time``, ``weight``) draws where a frame
    head listened under each player.
    """
    title = title or f"clapmos report: {report.label}"
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">{GENERATOR}<title>{_e(title)}</title>",
             f"<style>{STYLE}</style></head><body>", f"<h1>{_e(title)}</h1>", _settings(report), _metrics_table(report)]
    figures = _figures(report)
    parts.append(_img(*figures[0]).replace("<img ", '<img class="wide" ', 1))
    parts.append('<h2>Predicted against true</h2><div class="plots">')
    parts += [_img(draw, alt) for draw, alt in figures[1:]]
    parts.append("</div>")
    parts.append(_systems_table(report))
    for target in report.targets:
        parts.append(_worst(report, target, audio or {}, prompts, attention, n_worst))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_html_report(report: EvaluationReport, path: str | Path, **options) -> Path:
    """Write :func:`html_report` to ``path``; an existing file is replaced only when it is such a report."""
    from clapmos.evaluation.outputs import write_text

    path = Path(path)
    if path.exists() and not is_html_report(path):
        raise ClapmosError(f"{path} exists and is not a clapmos report; it will not be replaced. Choose another --out.")
    write_text(html_report(report, **options), path)
    return path


def is_html_report(path: str | Path) -> bool:
    """Whether ``path`` is a page written by :func:`write_html_report` (which may replace it)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as stream:
            return GENERATOR in stream.read(2000)
    except OSError:
        return False


def _e(value: object) -> str:
    return html.escape(str(value))


def _settings(report: EvaluationReport) -> str:
    b = report.bootstrap
    bars = (f"{b.confidence:.0%} bootstrap intervals, {b.n_draws} draws, seed {b.seed}: utterance level resamples clips "
            "(whole prompts where they are shared), system level resamples systems and then their clips") if b.n_draws else "no intervals"
    return (f'<p class="muted">{len(report.clips)} clips scored of {_e(report.truth.source)}; prediction file {_e(report.prediction_file)}. '
            f"Values are followed by their {bars}.</p>")


def _metrics_table(report: EvaluationReport) -> str:
    rows = ["<h2>Metrics</h2><table><tr><th>level</th><th>target</th>" + "".join(f"<th>{m}</th>" for m in METRICS) + "<th>N</th></tr>"]
    for (level, target), group in report.results.groupby(["level", "target"], sort=False):
        indexed = group.set_index("metric")
        cells = []
        for metric in METRICS:
            value = indexed.at[metric, "value"]
            interval = ""
            if "low" in indexed and not math.isnan(indexed.at[metric, "low"]):
                interval = f' <span class="muted">[{indexed.at[metric, "low"]:.3f}, {indexed.at[metric, "high"]:.3f}]</span>'
            cells.append(f"<td>{value:.3f}{interval}</td>")
        rows.append(f"<tr><td>{level}</td><td>{_e(target)}</td>{''.join(cells)}<td>{int(group['n'].max())}</td></tr>")
    return "\n".join(rows) + "</table>"


def _figures(report: EvaluationReport) -> list[tuple[Callable[[Path], Path], str]]:
    from clapmos.evaluation.plots import metrics_plot, scatter_plot

    figures = [(lambda p: metrics_plot(report.results, p, title=report.label, confidence=report.bootstrap.confidence), "metrics with intervals")]
    systems = report.clips["system"].where(report.clips["system"] != "")
    for level in LEVELS:
        for target in report.targets:
            rows = report.results[(report.results["level"] == level) & (report.results["target"] == target)]
            if rows.empty:
                continue
            truth, prediction, labels = report.clips[f"{target}_true"], report.clips[f"{target}_pred"], None
            if level == "system":
                given = None if report.truth.system_means is None else report.truth.system_means[target]
                table = system_table(truth, prediction, systems, given)
                truth, prediction, labels = table["truth"], table["prediction"], table["system"]
            metrics = dict(zip(rows["metric"], rows["value"]))
            title = f"{level} level, {target} (n = {int(rows['n'].max())})"
            figures.append((lambda p, t=truth, q=prediction, ti=title, m=metrics, la=labels: scatter_plot(t, q, p, title=ti, metrics=m, labels=la),
                            f"scatter {level} {target}"))
    return figures


def _img(draw: Callable[[Path], Path], alt: str) -> str:
    with tempfile.TemporaryDirectory() as folder:
        data = draw(Path(folder) / "figure.png").read_bytes()
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def _systems_table(report: EvaluationReport) -> str:
    from clapmos.evaluation.systems import SystemWarning, compare_systems

    known = report.clips[report.clips["system"] != ""]
    if known.empty:
        return ""
    scores = known.rename(columns={f"{t}_pred": t for t in report.targets})
    b = report.bootstrap
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SystemWarning)
        table = compare_systems(scores, report.targets, n_draws=max(b.n_draws, 200), confidence=b.confidence, seed=b.seed).table
    truth = known.groupby("system")[[f"{t}_true" for t in report.targets]].mean()
    rows = [f"<h2>Systems</h2><p class=\"muted\">Mean prediction with its {b.confidence:.0%} interval over the system's clips, "
            "and the mean true score.</p><table><tr><th>system</th><th>clips</th>"
            + "".join(f"<th>{_e(t)} predicted</th><th>{_e(t)} true</th>" for t in report.targets) + "</tr>"]
    indexed = table.set_index(["target", "system"])
    for system in table[table["target"] == report.targets[0]]["system"]:
        cells = [f"<td>{_e(system)}</td><td>{int(indexed.loc[(report.targets[0], system), 'clips'])}</td>"]
        for target in report.targets:
            row = indexed.loc[(target, system)] if (target, system) in indexed.index else None
            interval = "" if row is None or math.isnan(row["low"]) else f' <span class="muted">[{row["low"]:.2f}, {row["high"]:.2f}]</span>'
            mean = "" if row is None else f"{row['mean']:.2f}"
            true_mean = truth.at[system, f"{target}_true"]
            cells.append(f"<td>{mean}{interval}</td><td>{true_mean:.2f}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return "\n".join(rows) + "</table>"


def _worst(report, target, audio, prompts, attention, n_worst) -> str:
    clips = report.clips.rename(columns={f"{target}_true": target})
    worst = worst_clips(clips, target, n=n_worst)
    parts = [f"<h2>The {len(worst)} worst-predicted clips: {_e(target)}</h2>"]
    for clip in worst.itertuples(index=False):
        parts.append('<div class="clip">')
        parts.append(f"<b>{_e(clip.id)}</b> · system {_e(clip.system or '?')} · true {getattr(clip, target):.2f}, "
                     f"predicted {getattr(clip, f'{target}_pred'):.2f} (error {clip.error:+.2f})")
        prompt = None if prompts is None else prompts.get(clip.id)
        if prompt:
            parts.append(f"<p>prompt: <i>{_e(prompt)}</i></p>")
        parts.append(_player(audio.get(clip.id)))
        if attention is not None:
            tokens = attention[(attention["id"] == clip.id) & (attention.get("target", target) == target)]
            if len(tokens):
                one = worst[worst["id"] == clip.id]
                parts.append(_img(lambda p, t=tokens, o=one: attention_plot(t, o, target, p, title="where the head listens"), f"attention {clip.id}"))
        parts.append("</div>")
    return "\n".join(parts)


def _player(path: str | Path | None) -> str:
    if path is None:
        return '<p class="muted">(no audio file known for this clip)</p>'
    path = Path(path)
    if not path.is_file():
        return f'<p class="muted">(audio not found at {_e(path)})</p>'
    kind = AUDIO_TYPES.get(path.suffix.lower(), "audio/wav")
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<audio controls preload="metadata" src="data:{kind};base64,{data}"></audio>'
