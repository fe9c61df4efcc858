"""The challenges' four metrics, at utterance and at system level, as one tidy table.

Both challenges (AudioMOS 2025 Track 1 and XACLE) judged predictions by the same four
numbers per target: MSE on the raw scale, Pearson (LCC), Spearman (SRCC, ties get average
ranks) and Kendall tau-b (KTAU). At the *utterance* level they are taken over clips; at the
*system* level over systems, where a system's predicted score is the mean of its clips'
predictions and its true score the mean of its clips' true scores (or a given true mean).

>>> results = score([1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 2.5, 4.5], systems=["A", "A", "B", "B"])
>>> print(format_line(results))
[score] [UTT][ MSE = 0.188 | LCC = 0.933 | SRCC = 1.000 | KTAU = 1.000 ] [SYS][ MSE = 0.031 | LCC = 1.000 | SRCC = 1.000 | KTAU = 1.000 ]
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

METRICS = ("MSE", "LCC", "SRCC", "KTAU")
LEVELS = ("utterance", "system")
RESULT_COLUMNS = ["level", "target", "metric", "value", "n"]


class EvaluationWarning(UserWarning):
    """Data were dropped, or a metric is undefined for the data it was given."""


def vector_metrics(y_true: np.ndarray, y_pred: np.ndarray, *, what: str = "scores") -> dict[str, float]:
    """MSE, LCC, SRCC and KTAU of two paired, NaN-free vectors.

    Fewer than two pairs, or a constant vector, leave the correlations NaN (and no pairs at
    all leave MSE NaN too), with an :class:`EvaluationWarning` naming ``what``.

    >>> {name: round(value, 3) for name, value in vector_metrics([1.0, 2.0, 3.0], [1.0, 3.0, 2.0]).items()}
    {'MSE': 0.667, 'LCC': 0.5, 'SRCC': 0.5, 'KTAU': 0.333}
    """
    true = np.asarray(y_true, dtype=float)
    pred = np.asarray(y_pred, dtype=float)
    values = dict.fromkeys(METRICS, float("nan"))
    n = len(true)
    if n == 0:
        warnings.warn(f"{what}: no pairs to score; every metric is NaN", EvaluationWarning, stacklevel=3)
        return values
    values["MSE"] = float(np.mean((true - pred) ** 2))
    if n < 2:
        warnings.warn(f"{what}: only 1 pair; LCC, SRCC and KTAU are NaN", EvaluationWarning, stacklevel=3)
        return values
    constant = [name for name, vector in (("truth", true), ("prediction", pred)) if np.all(vector == vector[0])]
    if constant:
        warnings.warn(
            f"{what}: the {' and the '.join(constant)} is constant over {n} pairs; LCC, SRCC and KTAU are NaN",
            EvaluationWarning,
            stacklevel=3,
        )
        return values
    from scipy import stats  # imported here: scipy.stats alone takes a noticeable part of a second

    values["LCC"] = float(stats.pearsonr(true, pred).statistic)
    values["SRCC"] = float(stats.spearmanr(true, pred).statistic)
    values["KTAU"] = float(stats.kendalltau(true, pred, variant="b").statistic)
    return values


def system_means(values: np.ndarray, systems: np.ndarray) -> pd.Series:
    """Mean of ``values`` per system, indexed by the sorted system ids.

    Each mean is ``np.mean`` of that system's values in their original order.

    >>> system_means(np.array([1.0, 2.0, 4.0]), np.array(["B", "A", "B"]))
    A    2.0
    B    2.5
    dtype: float64
    """
    values = np.asarray(values, dtype=float)
    codes, ids = pd.factorize(np.asarray(systems), sort=True)
    order = np.argsort(codes, kind="stable")
    groups = np.split(values[order], np.flatnonzero(np.diff(codes[order])) + 1) if len(values) else []
    return pd.Series([group.mean() for group in groups], index=pd.Index(ids), dtype=float)


def score(
    y_true,
    y_pred,
    systems: Sequence | np.ndarray | None = None,
    targets: Sequence[str] | None = None,
    *,
    system_truth: pd.DataFrame | pd.Series | None = None,
) -> pd.DataFrame:
    """Score predictions against truth with the challenges' metrics, per target and level.

    Parameters
    ----------
    y_true, y_pred : array-like or DataFrame
        1-D (one target), 2-D (one column per target) or DataFrames with the target columns.
    systems : array-like, optional
        System id of every clip; without it only the utterance level is reported. Clips
        with a missing system id are left out of the system level.
    targets : list of str, optional
        Target names: the columns to score (DataFrames) or the names of the array columns.
    system_truth : DataFrame or Series, optional
        Given true system means (indexed by system id, one column per target), e.g.
        MusicEval's ``system_mos_phase1.csv``; then the system level compares the mean
        predictions with these instead of the means of the clip truths.

    Returns
    -------
    DataFrame
        Columns ``level`` (``utterance``, ``system``), ``target``, ``metric`` (``MSE``,
        ``LCC``, ``SRCC``, ``KTAU``), ``value`` and ``n`` (pairs the value is computed on).

    Pairs with NaN truth or prediction are dropped per target with an
    :class:`EvaluationWarning` giving the count; undefined metrics are NaN with a warning.

    >>> score([[1, 2], [2, 1], [3, 3]], [[1, 2], [2, 2], [3, 3]], targets=["overall", "textual"]).head(4)
           level   target metric  value  n
    0  utterance  overall    MSE    0.0  3
    1  utterance  overall    LCC    1.0  3
    2  utterance  overall   SRCC    1.0  3
    3  utterance  overall   KTAU    1.0  3
    """
    true, pred = _target_frames(y_true, y_pred, targets)
    if systems is not None:
        systems = np.asarray(systems, dtype=object)
        if len(systems) != len(true):
            raise ValueError(f"systems has {len(systems)} entries for {len(true)} clips")
    given = _system_truth_frame(system_truth, list(true.columns)) if system_truth is not None else None
    rows: dict[str, list[tuple]] = {level: [] for level in LEVELS}
    for target in true.columns:
        t = true[target].to_numpy(dtype=float)
        p = pred[target].to_numpy(dtype=float)
        paired = ~(np.isnan(t) | np.isnan(p))
        if not paired.all():
            warnings.warn(
                f"{target}: dropped {int((~paired).sum())} of {len(t)} clips whose truth or prediction is NaN; "
                f"scoring {int(paired.sum())}",
                EvaluationWarning,
                stacklevel=2,
            )
        utterance = vector_metrics(t[paired], p[paired], what=f"utterance level, {target}")
        rows["utterance"] += [("utterance", target, m, v, int(paired.sum())) for m, v in utterance.items()]
        if systems is None:
            continue
        sys_true, sys_pred = _system_pairs(t, p, paired, systems, None if given is None else given[target], target)
        system = vector_metrics(sys_true.to_numpy(), sys_pred.to_numpy(), what=f"system level, {target}")
        rows["system"] += [("system", target, m, v, len(sys_true)) for m, v in system.items()]
    return pd.DataFrame(rows["utterance"] + rows["system"], columns=RESULT_COLUMNS)


def system_table(y_true: np.ndarray, y_pred: np.ndarray, systems: np.ndarray, given: pd.Series | None = None) -> pd.DataFrame:
    """Per-system true and predicted scores exactly as :func:`score` pairs them (for plots and reports).

    >>> system_table(np.array([1.0, 3.0, 2.0]), np.array([2.0, 2.0, 2.5]), np.array(["A", "A", "B"]))
      system  truth  prediction
    0      A    2.0         2.0
    1      B    2.0         2.5
    """
    t, p = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    systems = np.asarray(systems, dtype=object)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvaluationWarning)
        truth, pred = _system_pairs(t, p, ~(np.isnan(t) | np.isnan(p)), systems, given, "")
    return pd.DataFrame({"system": truth.index.astype(str), "truth": truth.to_numpy(), "prediction": pred.to_numpy()})


def _system_pairs(t, p, paired, systems, given, target) -> tuple[pd.Series, pd.Series]:
    """Aligned (true, predicted) system scores of one target, indexed by system id."""
    known = ~pd.isna(systems)
    if not known.all():
        warnings.warn(
            f"{target}: {int((~known).sum())} clips have no system id and are left out of the system level",
            EvaluationWarning,
            stacklevel=3,
        )
    if given is None:
        use = paired & known
        sys_true, sys_pred = system_means(t[use], systems[use]), system_means(p[use], systems[use])
    else:
        use = ~np.isnan(p) & known
        sys_pred = system_means(p[use], systems[use])
        sys_true = given.reindex(sys_pred.index).astype(float)
        lacking = sys_true.index[sys_true.isna()]
        if len(lacking):
            warnings.warn(
                f"{target}: {len(lacking)} of {len(sys_true)} systems have no given true mean and are left out "
                f"of the system level: {', '.join(map(str, lacking[:5]))}{' ...' if len(lacking) > 5 else ''}",
                EvaluationWarning,
                stacklevel=3,
            )
            sys_true, sys_pred = sys_true.drop(lacking), sys_pred.drop(lacking)
    return sys_true, sys_pred


def _target_frames(y_true, y_pred, targets: Sequence[str] | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both inputs as float DataFrames with the same target columns, row for row."""
    names = list(targets) if targets is not None else None
    for y in (y_true, y_pred):
        if names is None and isinstance(y, pd.DataFrame):
            names = [str(c) for c in y.columns]
        elif names is None and isinstance(y, pd.Series) and y.name is not None:
            names = [str(y.name)]
    true, pred = _as_frame(y_true, names, "y_true"), _as_frame(y_pred, names, "y_pred")
    if true.shape != pred.shape:
        raise ValueError(f"y_true has shape {true.shape} but y_pred has shape {pred.shape}")
    pred.columns = true.columns
    return true, pred


def _as_frame(y, names: list[str] | None, label: str) -> pd.DataFrame:
    if isinstance(y, pd.DataFrame):
        if names is not None:
            missing = [n for n in names if n not in y.columns]
            if missing and y.shape[1] == len(names):
                return pd.DataFrame(y.to_numpy(dtype=float), columns=names)
            if missing:
                raise ValueError(f"{label} lacks the target column(s) {missing}; it has {list(y.columns)}")
            y = y[names]
        return y.astype(float).reset_index(drop=True)
    values = np.asarray(y, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise ValueError(f"{label} must be 1-D or 2-D, got {values.ndim} dimensions")
    if names is None:
        names = ["score"] if values.shape[1] == 1 else [f"score{i}" for i in range(values.shape[1])]
    if len(names) != values.shape[1]:
        raise ValueError(f"{label} has {values.shape[1]} column(s) for {len(names)} target name(s) {names}")
    return pd.DataFrame(values, columns=names)


def _system_truth_frame(system_truth: pd.DataFrame | pd.Series, targets: list[str]) -> pd.DataFrame:
    """Given system means as a float DataFrame indexed by system id with the target columns."""
    if isinstance(system_truth, pd.Series):
        if len(targets) != 1:
            raise ValueError(f"system_truth is a Series but there are {len(targets)} targets; pass a DataFrame")
        system_truth = system_truth.to_frame(targets[0])
    missing = [t for t in targets if t not in system_truth.columns]
    if missing:
        raise ValueError(f"system_truth lacks the target column(s) {missing}; it has {list(system_truth.columns)}")
    return system_truth[targets].astype(float)


def markdown_table(results: pd.DataFrame, digits: int = 3) -> str:
    """The results as a Markdown table: one row per level and target, one column per metric.

    With the ``low`` and ``high`` columns of :func:`clapmos.evaluation.intervals.with_intervals`
    each value is followed by its interval, ``0.761 [0.702, 0.811]``.

    >>> print(markdown_table(score([1.0, 2.0, 3.0], [1.0, 2.5, 2.0], targets=["overall"])))
    | level | target | MSE | LCC | SRCC | KTAU | N |
    |---|---|---|---|---|---|---|
    | utterance | overall | 0.417 | 0.655 | 0.500 | 0.333 | 3 |
    """
    names = [*METRICS, *(m for m in dict.fromkeys(results["metric"]) if m not in METRICS)]  # + a benchmark's own (TTA, ACC)
    lines = ["| level | target | " + " | ".join(names) + " | N |", "|---" * (len(names) + 3) + "|"]
    for (level, target), group in results.groupby(["level", "target"], sort=False):
        rows = group.set_index("metric")
        cells = [_cell(rows, m, digits) for m in names]
        lines.append(f"| {level} | {target} | " + " | ".join(cells) + f" | {int(group['n'].max())} |")
    return "\n".join(lines)


def _cell(rows: pd.DataFrame, metric: str, digits: int) -> str:
    if metric not in rows.index:
        return f"{float('nan'):.{digits}f}"
    value = f"{rows.at[metric, 'value']:.{digits}f}"
    if "low" in rows and not np.isnan(rows.at[metric, "low"]):
        value += f" [{rows.at[metric, 'low']:.{digits}f}, {rows.at[metric, 'high']:.{digits}f}]"
    return value


def format_line(results: pd.DataFrame, target: str | None = None, digits: int = 3) -> str:
    """SHEET's grep-able one-liner per target: ``[target] [UTT][ MSE = … | … ] [SYS][ … ]``.

    One line per target (only ``target`` when given), lines separated by newlines.
    """
    targets = [target] if target is not None else list(dict.fromkeys(results["target"]))
    lines = []
    for name in targets:
        parts = [f"[{name}]"]
        for level, tag in zip(LEVELS, ("UTT", "SYS")):
            rows = results[(results["level"] == level) & (results["target"] == name)]
            if len(rows):
                cells = " | ".join(f"{m} = {v:.{digits}f}" for m, v in zip(rows["metric"], rows["value"]))
                parts.append(f"[{tag}][ {cells} ]")
        lines.append(" ".join(parts))
    return "\n".join(lines)
