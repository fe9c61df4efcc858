"""scikit-learn common checks that cannot apply to the heads, with the reason.

``EXPECTED_FAILED_CHECKS`` maps a class name to ``{check name: reason}``; the
conformance tests pass it to ``parametrize_with_checks(expected_failed_checks=...)``
in strict mode, so the list stays exact.

Three estimators read a *paired* matrix, audio | text, and split it where ``audio_dim``
says (``None``: in the middle). The checks fit on 3 features, so the conformance tests give
``PairedEmbeddingFeatures`` (blocks ``audio`` and ``text``) and ``xattn``
(``CrossAttentionRegressor``, which reads a matrix as token | text) ``audio_dim=1``: every
check applies to them. The cosine head compares the two halves, which must then have one
width: 3 features cannot be split so, and the checks below fail for that reason only. The
same properties (pickling, dtypes, subset and order invariance, untouched inputs, repeatable
fits) are tested on even widths in ``tests/test_heads_paired_contract.py``, as are the
feature blocks that compare audio with text (``product``, ``cosine``, ...).

The frame heads read sequences of frame tokens (``clapmos.embed.store.frames.Frames``), which the
checks cannot make; given a matrix, they read each row as a clip of one token, so both pass
every check. Their distribution output (``output="distribution"``) is checked on
``attn_mlp``; ``xattn`` shares that code (the network's last layer, the KL loss, the decoding).
"""

from __future__ import annotations

_ODD_WIDTH = (
    "the check fits on 3 features; the cosine head compares an audio and a text half of one width, "
    "which 3 features cannot give (tested on even widths in tests/test_heads_paired_contract.py)"
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

EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {
    "SpoCosineRegressor": {
        **dict.fromkeys(_ODD_WIDTH_CHECKS, _ODD_WIDTH),
        "check_supervised_y_2d": _ODD_WIDTH,
    },
}
