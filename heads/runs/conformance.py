"""scikit-learn common checks that cannot apply to the heads, with the reason.

``EXPECTED_FAILED_CHECKS`` maps a class name to ``{check name: reason}``; the
conformance tests pass it to ``parametrize_with_checks(expected_failed_checks=...)``
in strict mode, so the list stays exact.

Two estimators read a *paired* matrix, audio | text, and split it in half: the
checks below fit them on 3 features, a width with no middle. The same properties
(pickling, dtypes, subset and order invariance, untouched inputs, repeatable fits)
are tested on even widths in ``tests/test_heads_paired_contract.py``.

The frame heads read sequences of frame tokens (``clapmos.embed.store.frames.Frames``), which the
checks cannot make; given a matrix, they read each row as a clip of one token. So
``attn_mlp`` passes every check. ``xattn`` reads a matrix as paired ``token | text``
halves, like the cosine head, and cannot apply the same checks on 3 features; the
properties behind them (and the sequence inputs) are tested in
``tests/test_frame_heads.py``.

The frame heads' distribution output (``output="distribution"``) is checked on
``attn_mlp``, where every check applies; ``xattn`` shares that code (the network's
last layer, the KL loss, the decoding), so checking it too would only repeat the
paired-width exceptions above.
"""

from __future__ import annotations

_ODD_WIDTH = (
    "the check fits on 3 features; a paired (audio | text) matrix needs an even width to be split "
    "in half (tested on even widths in tests/test_heads_paired_contract.py)"
)
_ODD_WIDTH_CHECKS = (
    "check_dict_unchanged",
    "check_dont_overwrite_parameters",
    "check_estimators_dtypes",
    "check_estimators_nan_inf",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_fit2d_predict1d",
    "check_fit_score_takes_y",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_pipeline_consistency",
)

_ODD_WIDTH_TEXT_QUERY = (
    "the check fits on 3 features; xattn reads a matrix as paired token | text halves, which needs an even "
    "width (tested on even widths and on frame sequences in tests/test_frame_heads.py)"
)

EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {
    "PairedEmbeddingFeatures": {
        **dict.fromkeys(_ODD_WIDTH_CHECKS, _ODD_WIDTH),
        "check_transformer_data_not_an_array": _ODD_WIDTH,
        "check_transformer_general": _ODD_WIDTH,
        "check_transformer_preserve_dtypes": _ODD_WIDTH,
    },
    "SpoCosineRegressor": {
        **dict.fromkeys(_ODD_WIDTH_CHECKS, _ODD_WIDTH),
        "check_supervised_y_2d": _ODD_WIDTH,
    },
    "CrossAttentionRegressor": {
        **dict.fromkeys(_ODD_WIDTH_CHECKS, _ODD_WIDTH_TEXT_QUERY),
        "check_supervised_y_2d": _ODD_WIDTH_TEXT_QUERY,
        "check_estimators_pickle(readonly_memmap=True)": _ODD_WIDTH_TEXT_QUERY,
    },
}
