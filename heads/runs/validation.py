"""Check a fit's settings before any work, and say which option is wrong and what is allowed.

Options that are plain values (folds, seeds, feature blocks, splits, the screening
distance) are checked here directly. Model parameters (``--param key=value``) are checked
by the estimators themselves, on a head built with only that parameter set: scikit-learn's
parameter constraints (``_parameter_constraints``, validated by ``_validate_params``; the
torch heads add ``_check_parameters`` for what constraints cannot say), and, for an
estimator without constraints (LightGBM), a fit on a tiny random sample, which runs its own
checks in a few milliseconds. Their ``ValueError``/``TypeError`` becomes one
:class:`~clapmos.embed.errors.ClapmosError` naming ``--param key=value``.

>>> check_head_parameters("mlp", {"dropout": 2})
Traceback (most recent call last):
clapmos.embed.errors.ClapmosError: --param dropout=2: The 'dropout' parameter of TorchMLPRegressor must be a float in the range [0.0, 1.0) or an array-like. Got 2 instead.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import warnings
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.pipeline import Pipeline

from clapmos.embed.errors import ClapmosError
from clapmos.heads.runs.members import member_pipelines, member_settings, shown_value

if TYPE_CHECKING:
    from clapmos.embed.store import FeatureStore
    from clapmos.heads.runs.run import RunConfig


#: heads for which ``max_epochs=0`` means something: the cosine head keeps its zero-shot map
ZERO_EPOCH_HEADS = frozenset({"cosine"})


def check_run_config(config: RunConfig, store: FeatureStore) -> None:
    """Refuse settings of ``config`` that no fit could use, before any work (one message, naming the option)."""
    from clapmos.heads.registry import head_spec, member_head

    for option, value, least in (("--cv", config.cv, 1), ("--seeds", config.seeds, 1)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < least:
            raise ClapmosError(f"{option} {value}: must be a whole number >= {least}.")
    if config.screening_tau is not None and not config.screening_tau >= 0:
        raise ClapmosError(f"--screening-tau {config.screening_tau}: must be >= 0 (a distance on the score scale).")
    overlap = [split for split in config.eval_split or [] if split in config.train_split]
    if overlap:
        raise ClapmosError(
            f"--eval-split {','.join(config.eval_split)}: {', '.join(overlap)} is also in --train-split "
            f"{','.join(config.train_split)}, so its scores would not be held out. Evaluate on a split the heads are not "
            "trained on, or leave --eval-split out (the cross-validated scores are reported anyway)."
        )
    check_options_used(config)
    for member in config.heads:
        settings = member_settings(config.params, member)
        if head_spec(member).listener_ratings and config.screening_tau is not None and "screening_tau" in head_spec(member).build().get_params():
            settings.setdefault("screening_tau", ("--screening-tau", config.screening_tau))
        check_head_parameters(member_head(member), {name: value for name, (_, value) in settings.items()},
                              labels={name: label for name, (label, _) in settings.items()})
        epochs = settings.get("max_epochs")
        if epochs is not None and epochs[1] == 0 and member_head(member) not in ZERO_EPOCH_HEADS:
            raise ClapmosError(
                f"{epochs[0]}: head {member} would not be trained at all (its untrained net would be saved as a run). "
                "Give max_epochs of 1 or more."
            )
    _check_pipelines_on_the_store(config, store)


#: The run options that only some heads read: option -> (its flag, the question put to a member's head).
#: A run whose members all ignore an option it was given is refused (mixed runs: the members that read it use it).
HEAD_OPTIONS: dict[str, str] = {
    "screening_tau": "--screening-tau",
    "device": "--device",
    "pretrain_store": "--pretrain-store",
    "features": "--features",
}


def option_used(option: str, head: str) -> bool:
    """Whether ``head`` reads the run option ``option`` (a key of :data:`HEAD_OPTIONS`).

    >>> option_used("screening_tau", "spo_mlp"), option_used("screening_tau", "dist"), option_used("device", "ridge")
    (True, False, False)
    """
    from clapmos.heads.registry import head_spec, member_head

    spec = head_spec(member_head(head))
    model = spec.build()
    settable = model.get_params()
    if option == "screening_tau":  # the listener-rating screening of SPO (and the frame heads' listener targets)
        return spec.listener_ratings and "screening_tau" in settable
    if option == "device":  # where a torch head trains
        return "device" in settable
    if option == "pretrain_store":  # a clip-vector torch head that can start from a pretrained network
        return spec.inputs == "vectors" and hasattr(model, "_starting_network")
    if option == "features":  # the feature blocks (the frame heads: whether they read the text tokens)
        return spec.reads_blocks or "use_text" in settable
    raise KeyError(option)


def check_options_used(config: RunConfig) -> None:
    """Refuse a run option (:data:`HEAD_OPTIONS`) that none of the run's heads reads, instead of ignoring it.

    >>> from clapmos.heads.runs.run import RunConfig
    >>> check_options_used(RunConfig(embedders=["clap"], heads=["dist"], screening_tau=0.5))
    Traceback (most recent call last):
    clapmos.embed.errors.ClapmosError: --screening-tau is read by none of --head dist; it is used by spo_mlp, cosine, attn_mlp, xattn. Drop --screening-tau, or add one of those heads.
    """
    from clapmos.heads.registry import HEAD_NAMES

    for option, flag in HEAD_OPTIONS.items():
        if getattr(config, option) is None or any(option_used(option, member) for member in config.heads):
            continue
        users = [head for head in HEAD_NAMES if option_used(option, head)]
        raise ClapmosError(f"{flag} is read by none of --head {','.join(config.heads)}; it is used by {', '.join(users)}. "
                           f"Drop {flag}, or add one of those heads.")


def _check_pipelines_on_the_store(config: RunConfig, store: FeatureStore) -> None:
    """Each member's pipeline as ``fit`` builds it for this store: its steps, and its feature step on the store's layout
    (``--param features__embedders=[...]`` naming an embedder the run does not read, a ``scale`` that is no step)."""
    layout = store.layout(config.embedders)
    width = sum(audio + text for _, audio, text in layout)
    for target in config.targets or store.targets:
        for member, pipeline in member_pipelines(config, target, layout):
            settings = " ".join(label for label, _ in member_settings(config.params, member).values()) or f"--head {member}"
            try:
                pipeline._validate_steps()
                if "features" in pipeline.named_steps:
                    clone(pipeline.named_steps["features"]).fit(np.zeros((2, width)))
            except (ValueError, TypeError) as error:
                raise ClapmosError(f"{settings}: {_clean(error)}") from None




JUDGED_ROWS = 10  # fewer out-of-fold rows: only non-finite predictions are refused
DIVERGED_FACTOR = 100.0  # an out-of-fold MSE this many times the training mean's: the fit diverged


def check_fit_converged(oof, targets: list[str], params: Mapping[str, Any], training: list[str] = ()) -> None:
    """Refuse a fit whose out-of-fold predictions (``oof``: ``<target>`` and ``<target>_pred`` columns) diverged.

    Diverged: a prediction that is not finite, or an out-of-fold MSE more than
    :data:`DIVERGED_FACTOR` times that of predicting every clip the mean of the training
    scores. The run is then not saved; the message names the settings given, the first
    suspects. A fit merely worse than the mean (common for a weak target on few clips) is
    saved with a warning, and the MSE is not judged on fewer than :data:`JUDGED_ROWS` rows.
    ``training`` lists divergences the training loops reported (a loss that became non-finite):
    the run is not saved either, even when early stopping kept an epoch before it.

    >>> import pandas as pd
    >>> mos = [1.0, 2.0, 3.0] * 4
    >>> check_fit_converged(pd.DataFrame({"mos": mos, "mos_pred": [1.1, 2.0, 2.8] * 4}), ["mos"], {})
    >>> check_fit_converged(pd.DataFrame({"mos": mos, "mos_pred": [9e62, 2.0, 2.8] * 4}), ["mos"], {"lr": 1e9})
    Traceback (most recent call last):
    clapmos.embed.errors.ClapmosError: the fit diverged, so the run was not saved: mos: out-of-fold MSE 2.7e+125, predicting the training mean gives 0.667. Change the settings (--param lr=1000000000.0) or leave them at their defaults, and fit again.
    """
    problems = list(dict.fromkeys(training))
    for target in targets:
        known = oof[oof[target].notna()] if target in oof else oof.iloc[:0]
        if known.empty or f"{target}_pred" not in known:
            continue
        truth, predicted = known[target].to_numpy(dtype=float), known[f"{target}_pred"].to_numpy(dtype=float)
        baseline = float(np.mean((truth - truth.mean()) ** 2))
        if not np.isfinite(predicted).all():
            problems.append(f"{target}: {int((~np.isfinite(predicted)).sum())} out-of-fold predictions are not finite")
            continue
        mse = float(np.mean((truth - predicted) ** 2))
        if len(truth) < JUDGED_ROWS:  # a few out-of-fold rows (folds trained on 2 clips) say nothing about divergence
            continue
        if mse > DIVERGED_FACTOR * baseline:
            problems.append(f"{target}: out-of-fold MSE {mse:.3g}, predicting the training mean gives {baseline:.3g}")
        elif mse > baseline:
            warnings.warn(f"{target}: the out-of-fold MSE ({mse:.3g}) is worse than predicting the training mean ({baseline:.3g}); "
                          "the run learned nothing useful for this target", UserWarning, stacklevel=2)
    if problems:
        given = " ".join(f"--param {k}={shown_value(v)}" for k, v in params.items())
        raise ClapmosError(
            f"the fit diverged, so the run was not saved: {'; '.join(problems)}. "
            f"Change the settings{f' ({given})' if given else ''} or leave them at their defaults, and fit again."
        )


def check_head_parameters(head: str, params: Mapping[str, Any], labels: Mapping[str, str] | None = None) -> None:
    """Validate ``params`` of ``head`` one by one, then together; raise :class:`ClapmosError` naming the parameter.

    ``labels`` says how each parameter was given (default ``--param name=value``).
    """
    from clapmos.heads.registry import make_head

    labels = {name: (labels or {}).get(name) or f"--param {name}={shown_value(value)}" for name, value in params.items()}
    for name, value in params.items():
        _check(lambda: make_head(head, **{name: value}), labels[name], head)
    if len(params) > 1:
        _check(lambda: make_head(head, **params), " ".join(labels.values()), head)


def _check(build, label: str, head: str) -> None:
    try:
        estimator = build()
    except ClapmosError as error:  # a name the head does not have
        lines = str(error).splitlines()
        hint = lines[-1] if len(lines) > 1 and lines[-1].startswith("settable") else lines[0]
        raise ClapmosError(f"{label}: not a parameter of head {head!r}; {hint}") from None
    try:
        validate_estimator(estimator)
    except TypeError as error:
        if "does not support item assignment" in str(error):  # scikit-learn writes into a list setting (RidgeCV's alphas)
            raise ClapmosError(f"{label}: give a list ([...]), not a tuple: {_clean(error)}") from None
        raise ClapmosError(f"{label}: {_clean(error)}") from None
    except ValueError as error:
        raise ClapmosError(f"{label}: {_clean(error)}") from None
    except Exception as error:
        if type(error).__name__ != "LightGBMError":
            raise
        raise ClapmosError(f"{label}: LightGBM refused it: {_clean(error)}") from None


def validate_estimator(estimator: BaseEstimator) -> None:
    """Run each step's own parameter validation; ``ValueError``/``TypeError`` (or the library's error) if one fails."""
    steps = [step for _, step in estimator.steps] if isinstance(estimator, Pipeline) else [estimator]
    for index, step in enumerate(steps):
        if isinstance(step, str) or step is None:  # "passthrough" (a step switched off)
            continue
        _refuse_booleans_as_numbers(step)
        check = getattr(step, "_check_parameters", None)
        if check is not None:
            check()
        elif hasattr(step, "_parameter_constraints"):  # scikit-learn's own estimators (the scaler, ridge...)
            step._validate_params()
        if check is None and index == len(steps) - 1:  # the model: its own checks in fit (LightGBM)
            _fit_tiny_sample(step)


def _refuse_booleans_as_numbers(step: BaseEstimator) -> None:
    """``true``/``false`` where a number is expected (scikit-learn's ``Interval(Integral)`` takes a ``bool``: it is an int)."""
    if not hasattr(step, "get_params"):  # not an estimator: Pipeline's own checks name it
        return
    constraints = getattr(step, "_parameter_constraints", {})
    for name, value in step.get_params(deep=False).items():
        if isinstance(value, (bool, np.bool_)) and "boolean" not in constraints.get(name, ["boolean"]):
            raise ValueError(f"The {name!r} parameter of {type(step).__name__} must be a number, not {str(value).lower()}.")


def _fit_tiny_sample(estimator: BaseEstimator) -> None:
    """Fit a clone on 16 random rows: every check ``fit`` makes (scikit-learn's ``_validate_params``
    included, and LightGBM's own), in milliseconds for the heads that do not train a network."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(16, 4)), rng.normal(size=16)
    with warnings.catch_warnings(), _native_stderr_silenced():
        warnings.simplefilter("ignore")
        clone(estimator).fit(X, y)


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Keep compiled libraries (LightGBM's ``[Fatal]`` lines) from printing while a check runs."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (e.g. some notebooks): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)




def _clean(error: Exception) -> str:
    """The first line of an error message, without a compiled library's source location."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return re.sub(r" at \S+\.(cpp|c|h|hpp), line \d+ ?\.?$", "", text)
