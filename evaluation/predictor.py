"""Score audio files with a fitted run, in one object: files in, scores (and their spread) out.

>>> predictor = Predictor.from_run("demo/run", cache="demo/clapmos_cache")              # doctest: +SKIP
>>> scores = predictor.score(["demo/corpus/wav"], systems=None)                          # doctest: +SKIP
>>> predictor.compare_systems(scores).markdown()                                         # doctest: +SKIP

:class:`Predictor` embeds what its cache (:class:`clapmos.embed.engines.score_cache.EmbeddingCache`) does
not hold yet with the run's own embedders and settings (window, hop, precision; the
checkpoint is the user's, and it must be the one the run was trained with, checked by its
sha256 before anything is embedded), then predicts every target with the run's ensembles:
the same numbers ``embed`` + ``predict`` give for the same clips (for a run with frame heads,
the cache holds the clips' frame tokens too). Targets that read a prompt
get no score for clips without text. Predictions are not clipped: a prediction outside the
range of the scores the run was trained on (silence, a clip unlike any training clip) is
flagged in ``<target>_outside`` with a warning, and ``clip=True`` clips it to that range.
Of the evaluation stage, this module (with
:mod:`clapmos.evaluation.pipeline`) is the one that drives the embed stage: it is where the whole
flow meets (``tests/test_layering.py``).
"""

from __future__ import annotations

import contextlib
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clapmos.embed.backends import Embedder, create_embedder, get_embedder_class
from clapmos.embed.errors import ClapmosError, listing
from clapmos.embed.filesystems import location
from clapmos.embed.engines.runner import SerialEngine
from clapmos.embed.engines.sequence import Engine
from clapmos.embed.engines.score_cache import EmbeddingCache, clip_keys
from clapmos.embed.engines.score_inputs import audio_problems, read_score_inputs
from clapmos.embed.store import identity_of
from clapmos.evaluation.systems import SystemComparison, compare_systems
from clapmos.heads.runs.frame_heads import with_vectors
from clapmos.heads.runs.fitted import FittedRun, load_run

PATH_OPTIONS = ("checkpoint", "tokenizer", "m2d_portable", "model_path")  # per embedder: one value for all, or {embedder: value}
PathOption = str | Path | Mapping[str, str | Path] | Sequence[str] | None


class ScoreWarning(UserWarning):
    """Some clips or targets got no score (no text for a target that reads one)."""


@dataclass
class ScoreResult:
    """What :meth:`Predictor.score_inputs` did: the scores, and what it skipped, embedded and reused."""

    scores: pd.DataFrame
    skipped: list[str] = field(default_factory=list)  # inputs left out (with --skip-bad), and why
    embedded: int = 0  # distinct clips embedded now
    cached: int = 0  # distinct clips read from the cache
    targets: list[str] = field(default_factory=list)  # targets with a column in ``scores``


class Predictor:
    """A fitted run that scores audio files through an embedding cache."""

    def __init__(
        self,
        run: FittedRun,
        cache: EmbeddingCache,
        embedder_options: Mapping[str, Mapping[str, Any]] | None = None,
        workers: int = 2,
        progress: bool = False,
        clip: bool = False,
        client: Any = None,
    ) -> None:
        self.run = run
        self.clip = clip
        self.cache = cache
        self.embedder_options = {e: dict((embedder_options or {}).get(e, {})) for e in run.config.embedders}
        self.workers = workers
        self.progress = progress
        self.client = client  # a dask.distributed Client: clips are embedded on its workers
        self._models: dict[str, Embedder] = {}
        self._engines: dict[str, Engine] = {}

    @classmethod
    def from_run(
        cls,
        run: str | Path | FittedRun,
        cache: str | Path | None = None,
        *,
        checkpoint: PathOption = None,
        tokenizer: PathOption = None,
        m2d_portable: PathOption = None,
        model_path: PathOption = None,
        plugin: PathOption = None,
        device: str = "auto",
        batch_size: int = 8,
        workers: int = 2,
        progress: bool = False,
        clip: bool = False,
        client: Any = None,
    ) -> "Predictor":
        """The predictor of a run folder (``fit --out``).

        ``cache`` is a folder for the embeddings (created when absent; the CLI's default is
        ``clapmos_cache`` next to ``--out``); ``None`` keeps them in a temporary folder for
        this session. ``checkpoint``, ``tokenizer``, ``m2d_portable`` and ``model_path`` are
        what ``embed`` was given: one path for every embedder of the run, or ``{embedder:
        path}``. By default the embedder is rebuilt from what its store recorded (backend,
        options, absolute paths); give them when those files have moved. Either way the
        model must make the run's features (checked by the recorded sha256 hashes).
        ``plugin`` is where a plugin embedder's file (``path/to/file.py``) is now, when it moved
        after training (checked by the sha256 the store recorded, like a checkpoint).
        ``clip`` clips predictions to the range of the training scores (by default they are
        only flagged, see the module's description).
        ``client``, a ``dask.distributed.Client``, embeds what the cache lacks on its workers
        (each loads the model; the same numbers as this process, bit for bit on CPU); the
        workers must see the audio and the cache under the same paths.
        """
        fitted = run if isinstance(run, FittedRun) else load_run(run)
        embedders = fitted.config.embedders
        options = {e: {"device": device, "batch_size": batch_size} for e in embedders}
        for name, value in zip(PATH_OPTIONS, (checkpoint, tokenizer, m2d_portable, model_path)):
            for embedder, path in _per_embedder(name, value, embedders).items():
                options[embedder][name] = path
        for embedder, path in _per_embedder("plugin", plugin, embedders).items():
            options[embedder]["plugin"] = path
        folder = Path(tempfile.mkdtemp(prefix="clapmos-cache-")) if cache is None else location(cache)  # a folder or a URL
        return cls(fitted, EmbeddingCache.open(folder), options, workers=workers, progress=progress, clip=clip, client=client)

    @classmethod
    def from_pretrained(
        cls,
        path_or_repo_id: str | Path,
        cache: str | Path | None = None,
        *,
        revision: str | None = None,
        hub_cache_dir: str | Path | None = None,
        local_files_only: bool | None = None,
        token: str | bool | None = None,
        **options: Any,
    ) -> "Predictor":
        """The predictor of a run folder, or of a run on the Hugging Face Hub (``org/name``).

        A repository is downloaded into the Hugging Face cache (``hub_cache_dir``, default
        ``HF_HUB_CACHE``) at ``revision``, or read from it offline (``local_files_only`` or
        ``HF_HUB_OFFLINE=1``); then it is loaded like a local run: every file's sha256 checked,
        only the types of its heads trusted. ``cache`` and ``options`` are those of
        :meth:`from_run` (a run from elsewhere usually needs ``checkpoint=``).

        >>> predictor = Predictor.from_pretrained("org/musiceval-ridge", checkpoint="music.pt")  # doctest: +SKIP
        """
        from clapmos.heads.runs.hub import run_folder

        folder = run_folder(path_or_repo_id, revision=revision, cache_dir=hub_cache_dir, local_files_only=local_files_only, token=token)
        return cls.from_run(folder, cache, **options)

    @property
    def targets(self) -> list[str]:
        return self.run.targets

    # ------------------------------------------------------------------ scoring
    def score(
        self,
        paths: str | Path | Sequence[str | Path],
        texts: Sequence[str] | None = None,
        systems: Sequence[str] | None = None,
        skip_bad: bool = False,
    ) -> pd.DataFrame:
        """Scores of audio files (or folders, or CSV/JSONL lists): ``path``, each target and ``<target>_std``.

        ``paths`` is one path or a list of them; ``texts`` and ``systems``, when given, go
        with ``paths`` one to one (each path one audio file then).
        """
        paths = _path_list(paths, "paths")
        texts, systems = (None if v is None else _value_list(v, name) for v, name in ((texts, "texts"), (systems, "systems")))
        inputs = read_score_inputs(paths)
        for name, values in (("text", texts), ("system", systems)):
            if values is None:
                continue
            if len(values) != len(paths) or len(inputs) != len(paths):
                raise ClapmosError(f"{name}s must go with the paths one to one: {len(values)} {name}s for {len(paths)} paths ({len(inputs)} audio files)")
            inputs[name] = [str(v) for v in values]
        return self.score_inputs(inputs, skip_bad=skip_bad).scores

    def score_inputs(self, inputs: pd.DataFrame, skip_bad: bool = False) -> ScoreResult:
        """Score the rows of :func:`clapmos.embed.engines.score_inputs.read_score_inputs`; one output row per input, in order."""
        problems = audio_problems(inputs, workers=max(4, self.workers))
        if problems and not skip_bad:
            raise ClapmosError(
                f"{len(problems)} of {len(inputs)} input(s) cannot be scored:\n{listing(problems.values())}\n"
                "Fix or remove them, or pass --skip-bad to score the others (they are listed as skipped)."
            )
        if problems:
            inputs = inputs.drop(index=inputs.index[list(problems)]).reset_index(drop=True)
            if inputs.empty:
                raise ClapmosError(f"none of the {len(problems)} input(s) can be scored:\n{listing(problems.values())}")
        keys = clip_keys(inputs, workers=max(4, self.workers))
        clips = inputs.assign(key=keys).drop_duplicates("key")
        cached = self._cached(clips["key"])
        with contextlib.ExitStack() as stack:  # Dask workers hold the models for this call only
            for embedder, found in cached.items():  # every model needed is loaded and checked before anything is embedded
                if len(found) < len(clips):
                    self._engine(embedder, stack)
            for embedder in self.run.config.embedders:
                attrs = self.run.provenance["embedders"][embedder]
                self.cache.complete(
                    embedder, identity_of(attrs), clips, lambda e=embedder: self._engine(e, stack), float(attrs["window_s"]),
                    float(attrs["hop_s"]), progress=self.progress, frames=self._frame_attrs(embedder),
                )
            self._engines.clear()
        predicted = self.run.predict_features(self._inputs(clips["key"].tolist()))
        rows = pd.Index(clips["key"]).get_indexer(keys)
        scores, targets = self._table(inputs, predicted.iloc[rows].reset_index(drop=True))
        cached_everywhere = len(set.intersection(*cached.values()))
        return ScoreResult(scores, list(problems.values()), len(clips) - cached_everywhere, cached_everywhere, targets)

    def compare_systems(self, scores: pd.DataFrame, n_draws: int = 2000, confidence: float = 0.95, seed: int = 0) -> SystemComparison:
        """Per-system means with bootstrap intervals, and pairwise shares ahead (:func:`clapmos.evaluation.systems.compare_systems`)."""
        if "system" not in scores or not (scores["system"].astype(str) != "").any():
            raise ClapmosError("no input names its system: give a `system` column in the list, or --system-from folder|PATTERN")
        targets = [t for t in self.targets if t in scores]
        return compare_systems(scores, targets, n_draws=n_draws, confidence=confidence, seed=seed)

    # ------------------------------------------------------------------ parts
    def _cached(self, keys: pd.Series) -> dict[str, set[str]]:
        """Per embedder of the run, which of ``keys`` the cache holds."""
        return {
            e: set(self.cache.locate(e, identity_of(self.run.provenance["embedders"][e]), keys, self._frame_attrs(e)))
            for e in self.run.config.embedders
        }

    def _frame_attrs(self, embedder: str) -> dict[str, Any] | None:
        """The frame attributes the run's frame heads were trained on (``None``: the run reads no frames of ``embedder``)."""
        return self.run.provenance.get("frames", {}).get(embedder)

    def _inputs(self, keys: list[str]):
        """The run's input for ``keys``: the matrix, or (frame heads) the frame tokens carrying it."""
        X = self._features(keys)
        if not self.run.reads_frames:
            return X
        embedder = self.run.config.embedders[0]
        identity = identity_of(self.run.provenance["embedders"][embedder])
        return with_vectors(self.cache.frames(embedder, identity, keys, self._frame_attrs(embedder)), X)

    def _features(self, keys: list[str]) -> np.ndarray:
        """The run's input matrix for ``keys``: per embedder its audio, then its text vector (the store's ``stacked`` layout)."""
        blocks = []
        for embedder in self.run.config.embedders:
            attrs = self.run.provenance["embedders"][embedder]
            identity = identity_of(attrs)
            blocks.append(self.cache.vectors(embedder, identity, keys, "audio"))
            if int(attrs.get("text_dim", 0)):
                blocks.append(self.cache.vectors(embedder, identity, keys, "text"))
        return np.hstack(blocks)

    def _engine(self, embedder: str, stack: contextlib.ExitStack) -> Engine:
        """The engine embedding with ``embedder`` (this process, or the Dask workers of ``client``),
        its model refused when it would make features other than the run's training features."""
        if embedder not in self._engines:
            if self.client is None:
                engine: Engine = SerialEngine(self._model(embedder), self.workers)
            else:
                from clapmos.embed.engines.distributed import DaskEngine

                engine = stack.enter_context(DaskEngine(self.client, self._build(embedder), self.workers))
                self._check(embedder, engine)
            self._engines[embedder] = engine
        return self._engines[embedder]

    def _model(self, embedder: str) -> Embedder:
        """The embedder, loaded in this process and checked (kept for later calls)."""
        if embedder not in self._models:
            model = self._build(embedder)
            model.load()
            self._check(embedder, SerialEngine(model))
            self._models[embedder] = model
        return self._models[embedder]

    def _build(self, embedder: str) -> Embedder:
        """The run's embedder, not loaded: what its store recorded (paths absolute), then what the user gives."""
        attrs = self.run.provenance["embedders"][embedder]
        options = {**attrs.get("load_options", {}), **self.embedder_options[embedder]}
        if "precision" in attrs:
            options.setdefault("precision", attrs["precision"])
        backend = attrs.get("backend", embedder)
        moved = options.pop("plugin", None)
        if moved is not None:  # the plugin file is elsewhere now: the same class from there (its sha256 is checked on loading)
            if "plugin_sha256" not in attrs:
                raise ClapmosError(f"--plugin {moved}: the run's {embedder} embedder is not a plugin file ({backend}); leave --plugin out.")
            backend = f"{Path(moved).expanduser().resolve()}:{str(attrs.get('plugin', backend)).rpartition(':')[2]}"
        if get_embedder_class(backend).name != embedder:  # features stored under another --name
            options["name"] = embedder
        return create_embedder(backend, **options)

    def _check(self, embedder: str, engine: Engine) -> None:
        """Refuse a model (as the engine loaded it) that would make features other than the run's training features."""
        attrs = self.run.provenance["embedders"][embedder]
        described = engine.describe(float(attrs["window_s"]), float(attrs["hop_s"]))
        made = identity_of({**described.attrs, "audio_dim": described.audio_dim, "text_dim": described.text_dim})
        trained = identity_of(attrs)
        differ = [f"{k}: run {trained[k]!r}, given {made[k]!r}" for k in trained if k in made and made[k] != trained[k]]
        if differ:
            raise ClapmosError(
                f"the {embedder} model given would make features other than the run's training features:\n{listing(differ)}\n"
                f"Pass the checkpoint (and options) the run was trained with, e.g. --checkpoint {embedder}=PATH "
                f"(the run's was {attrs.get('checkpoint', 'not recorded')})."
            )

    def _table(self, inputs: pd.DataFrame, predicted: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
        """One row per input: what names it, then each target and its spread (empty without the text it needs)."""
        columns = ["path"] + [c for c in ("id", "system") if (inputs[c] != "").any()]
        columns += [c for c in ("start_s", "end_s") if inputs[c].notna().any()]
        table = inputs[columns].reset_index(drop=True)
        has_text = (inputs["text"] != "").to_numpy()
        targets = []
        for target in self.targets:
            values = predicted[[target, f"{target}_std"]].copy()
            if self.run.config.needs_text(target) and not has_text.all():
                if not has_text.any():
                    warnings.warn(f"{target} reads the prompt and no input has text: {target} is not scored (give a `text` column in a list)", ScoreWarning, stacklevel=3)
                    continue
                warnings.warn(f"{target} reads the prompt: {int((~has_text).sum())} of {len(has_text)} input(s) have no text and get no {target} score", ScoreWarning, stacklevel=3)
                values.loc[~has_text] = np.nan
            table[[target, f"{target}_std"]] = values.to_numpy()
            targets.append(target)
        for target in targets:  # after every score: the flags of predictions outside the training range
            table[f"{target}_outside"] = self._flag_outside(table, target)
        return table, targets

    def training_range(self, target: str) -> tuple[float, float]:
        """The lowest and highest ``target`` score the run was trained on (from its out-of-fold table); for a run of
        several corpora, those of the reference corpus, on whose scale :meth:`score` predicts."""
        oof = self.run.oof
        if self.run.corpora and "corpus" in oof:
            oof = oof[oof["corpus"].astype(str) == self.run.corpora[0]]
        known = oof[target].dropna() if target in oof else pd.Series(dtype=float)
        return (float(known.min()), float(known.max())) if len(known) else (-np.inf, np.inf)

    def _flag_outside(self, table: pd.DataFrame, target: str) -> np.ndarray:
        """Which predictions of ``target`` lie outside the training range (a warning names how many); clipped with ``clip``."""
        low, high = self.training_range(target)
        values = table[target].to_numpy(dtype=float)
        outside = (values < low) | (values > high)
        if outside.any():
            shown = ", ".join(table["path"][outside].astype(str).head(3)) + (", ..." if outside.sum() > 3 else "")
            what = f"clipped to {low:g}..{high:g}" if self.clip else f"not clipped (pass --clip to clip them to {low:g}..{high:g})"
            warnings.warn(
                f"{int(outside.sum())} {target} prediction(s) lie outside the range the run was trained on ({low:g} to {high:g}), "
                f"e.g. {shown}: the run was not trained on clips like these, so these scores are extrapolations; {what}. "
                f"They are marked in the column {target}_outside.", ScoreWarning, stacklevel=4,
            )
            if self.clip:
                table[target] = np.clip(values, low, high)
        return outside


def _path_list(paths: object, name: str) -> list[str | Path]:
    """``paths`` as a list: one path, or a list or tuple of paths; anything else (a DataFrame, numbers) is refused.

    >>> _path_list("clips/", "paths")
    ['clips/']
    >>> _path_list(3, "paths")
    Traceback (most recent call last):
    clapmos.embed.errors.ClapmosError: paths: expected a path or a list of paths (str or pathlib.Path), got int
    """
    if isinstance(paths, (str, Path)):
        return [paths]
    if isinstance(paths, (list, tuple)) and all(isinstance(p, (str, Path)) for p in paths):
        return list(paths)
    raise ClapmosError(f"{name}: expected a path or a list of paths (str or pathlib.Path), got {type(paths).__name__}"
                       + (" holding other things" if isinstance(paths, (list, tuple)) else ""))


def _value_list(values: object, name: str) -> list:
    """``texts``/``systems``: a list or tuple (or a pandas Series or numpy array), never one string read letter by letter."""
    if isinstance(values, (list, tuple)):
        return list(values)
    if isinstance(values, (pd.Series, np.ndarray)) and np.ndim(values) == 1:
        return list(values)
    raise ClapmosError(f"{name}: expected a list with one value per path, got {type(values).__name__}")


def _per_embedder(name: str, value: PathOption, embedders: list[str]) -> dict[str, str | Path]:
    """``{embedder: value}`` from one value for all, a mapping, or CLI strings ``EMBEDDER=PATH``.

    >>> _per_embedder("checkpoint", "clap=music.pt", ["m2d", "clap"])
    {'clap': 'music.pt'}
    >>> _per_embedder("tokenizer", "roberta-base", ["clap"])
    {'clap': 'roberta-base'}
    """
    if value is None:
        return {}
    if isinstance(value, (list, tuple)):  # a repeated CLI option
        merged: dict[str, str | Path] = {}
        for one in value:
            merged |= _per_embedder(name, one, embedders)
        return merged
    if isinstance(value, Mapping):
        unknown = [e for e in value if e not in embedders]
        if unknown:
            raise ClapmosError(f"{name} for {', '.join(unknown)}: the run uses {', '.join(embedders)}")
        return dict(value)
    embedder, eq, path = str(value).partition("=")
    if eq and embedder in embedders:
        return {embedder: path}
    if eq and "/" not in embedder and not Path(str(value)).exists():  # EMBEDDER=PATH naming an embedder the run lacks
        raise ClapmosError(f"--{name.replace('_', '-')} {value}: the run has no embedder {embedder!r}; it uses {', '.join(embedders)}.")
    return dict.fromkeys(embedders, value)
